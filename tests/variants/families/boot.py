"""Boot scripts: a remote shell started however a script writes it (a variable, a function,
start-stop-daemon, nohup, setsid, a backgrounded subshell, exec, eval, sh -c, OpenWrt procd,
a sourced file, socat), each beside a decoy of the same shape that starts a harmless daemon
or never runs the line."""

from __future__ import annotations

from collections.abc import Iterator

from tests.variants.corpus import Variant

FAMILY = "boot-scripts"
CATEGORY = "service.remote-shell"
SCRIPT = "/etc/init.d/S50debug"

# (name, script body with {cmd} where the program goes, the shell and the harmless command)
SHAPES: tuple[tuple[str, str], ...] = (
    ("variable", 'D={prog}\nLOG=/var/log/d\n$D {args} >> "$LOG"_x 2>&1 &\n'),
    ("function", "run_it() {{\n\t{prog} {args}\n}}\ncase \"$1\" in\n start) run_it & ;;\nesac\n"),
    ("start-stop-daemon", "start-stop-daemon -S -b -q -x {prog} -- {args}\n"),
    ("nohup", "nohup {prog} {args} > /dev/null 2>&1 &\n"),
    ("setsid", "setsid {prog} {args} &\n"),
    ("subshell", "( while true; do {prog} {args}; sleep 5; done ) &\n"),
    ("exec-in-script", "/bin/sh /etc/dbg.sh &\n"),
    ("eval", 'CMD="{prog} {args}"\neval "$CMD" &\n'),
    ("sh-c", "sh -c '{prog} {args}' &\n"),
    ("sourced", ". /etc/profile.d/dbg.sh\n"),
    ("busybox-prefix", "/bin/busybox {name} {args} &\n"),
    ("if-guard", "if [ -x {prog} ]; then\n  {prog} {args} &\nfi\n"),
    ("and-list", "[ -f /etc/hostname ] && {prog} {args} &\n"),
    ("for-loop", "for p in {prog}; do $p {args} & done\n"),
)

SHELLS = (  # (program, name, arguments): a shell to whoever connects
    ("/usr/sbin/telnetd", "telnetd", "-l /bin/sh -p 2323"),
    ("/usr/bin/nc", "nc", "-l -p 4444 -e /bin/sh"),
)
HARMLESS = (  # the same wrappers around daemons that open nothing
    ("/sbin/syslogd", "syslogd", "-n -O /var/log/messages"),
    ("/sbin/udhcpc", "udhcpc", "-i eth0 -b"),
)


def _files(shape: str, body: str, prog: str, name: str, args: str) -> dict[str, str]:
    text = body.format(prog=prog, name=name, args=args)
    files = {SCRIPT: "#!/bin/sh\n" + text}
    if shape == "exec-in-script":
        files["/etc/dbg.sh"] = f"#!/bin/sh\nexec {prog} {args}\n"
    if shape == "sourced":
        files["/etc/profile.d/dbg.sh"] = f"{prog} {args} &\n"
    return files


def _where(shape: str) -> str:
    return {"exec-in-script": "/etc/dbg.sh", "sourced": "/etc/profile.d/dbg.sh"}.get(shape, SCRIPT)


def variants() -> Iterator[Variant]:
    for shape, body in SHAPES:
        for i, (prog, name, args) in enumerate(SHELLS):
            yield Variant(FAMILY, f"{shape}-{name}", _files(shape, body, prog, name, args),
                          (CATEGORY, _where(shape)))
            harmless = HARMLESS[i % len(HARMLESS)]
            yield Variant(FAMILY, f"{shape}-{harmless[1]}-decoy", _files(shape, body, *harmless),
                          None, forbid=(CATEGORY,))
    # decoys whose line never runs: commented out, in the stop branch, a function never called,
    # a here-document, an echo of the command text, a program the image does not hold
    never = {
        "commented": "# telnetd -l /bin/sh -p 2323 &\n",
        "stop-branch": 'case "$1" in\n start) syslogd ;;\n'
                       ' stop) killall telnetd; telnetd -l /bin/sh ;;\nesac\n',
        "uncalled-function": "debug_shell() {\n\ttelnetd -l /bin/sh -p 2323 &\n}\n",
        "here-document": "cat > /tmp/help <<EOF\ntelnetd -l /bin/sh -p 2323 &\nEOF\n",
        "echoed-text": 'echo "to debug run: telnetd -l /bin/sh -p 2323"\n',
        "absent-program": "if [ -x /usr/sbin/utelnetd ]; then\n  /usr/sbin/utelnetd -l /bin/sh &\nfi\n",
    }
    for name, body in never.items():
        yield Variant(FAMILY, f"{name}-decoy", {SCRIPT: "#!/bin/sh\n" + body}, None,
                      forbid=(CATEGORY,))
