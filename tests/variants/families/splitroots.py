"""Split roots: one device is several file systems. The root (SquashFS at offset 0 of a flash
image) mounts a configuration partition (JFFS2, UBIFS, CramFS, a second SquashFS) laid after it,
at /mnt/custom (a Xiongmai camera), /mnt/config, /jffs, /mnt/mtd…, and its boot chain runs or
sources a script that lives only there, or copies an account database from there into /etc.
The configuration can also sit in a read-only folder of the root itself (/etc a link to
/etc_ro, /usr/etc/rcS).

How a file of a second file system is named in the report: its `container` is that file
system's (`("flash.bin", "jffs2@0x100000")`) and its `path` the path inside it (`/extapp.sh`,
not `/mnt/custom/extapp.sh`): a finding points at the bytes of the file in the container they
live in. `Variant.expect_in` names the part, and `judge` checks the container is that part's.

Decoys: the same shapes whose partition script starts a harmless daemon, a partition nothing in
the root mounts or uses (its script runs on no device), a copied passwd whose root is locked,
a partition script whose path the root only echoes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from tests.variants.corpus import STOCK_FILES, Variant

FAMILY = "split-roots"
SHELL = "service.remote-shell"
WEAK = "credential.weak-password"
RCS = "/etc/init.d/rcS"

TELNET = "telnetd -l /bin/sh -p 9527 &\n"
NC = "nc -l -p 4444 -e /bin/sh &\n"
HARMLESS = "syslogd -n -O /var/log/messages &\n"


def _rcs(body: str) -> dict[str, str]:
    return {RCS: "#!/bin/sh\nmount -a\n" + body}


# (name, format, mount point, root files with {mp}, partition files with {cmd}, where {cmd} is)
SCRIPT_SHAPES: tuple[tuple[str, str, str, str, dict[str, str], str], ...] = (
    # Xiongmai: the custom partition (CramFS) at /mnt/custom, its extapp.sh run from rcS
    ("xiongmai-custom", "cramfs", "/mnt/custom",
     "mount -t cramfs /dev/mtdblock4 {mp}\n[ -f {mp}/extapp.sh ] && {mp}/extapp.sh &\n",
     {"/extapp.sh": "#!/bin/sh\n{cmd}"}, "/extapp.sh"),
    ("config-sourced", "jffs2", "/mnt/config",
     "mount -t jffs2 /dev/mtdblock5 {mp}\n. {mp}/start.sh\n",
     {"/start.sh": "{cmd}"}, "/start.sh"),
    # no shebang, no .sh: nothing but the root's `sh` line makes it a script
    ("jffs-run-sh", "jffs2", "/jffs",
     "mount -t jffs2 /dev/mtdblock3 {mp}\nsh {mp}/run\n",
     {"/run": "{cmd}"}, "/run"),
    ("fstab-mounted", "jffs2", "/mnt/config",
     "/bin/sh {mp}/scripts/boot\n",
     {"/scripts/boot": "echo booting\n{cmd}"}, "/scripts/boot"),
    ("ubifs-config", "ubifs", "/mnt/config",
     "ubiattach -m 6\nmount -t ubifs ubi0:config {mp}\n{mp}/start.sh &\n",
     {"/start.sh": "#!/bin/sh\n{cmd}"}, "/start.sh"),
    ("squashfs-app", "squashfs-xz", "/mnt/mtd",
     "mount -t squashfs /dev/mtdblock6 {mp}\nfor s in {mp}/init.d/S*; do $s start; done\n",
     {"/init.d/S90app": '#!/bin/sh\ncase "$1" in\n start) {cmd} ;;\nesac\n'}, "/init.d/S90app"),
    # the partition's script runs another of its own by its device path
    ("nested-script", "jffs2", "/mnt/config",
     "mount -t jffs2 /dev/mtdblock5 {mp}\n{mp}/start.sh\n",
     {"/start.sh": "#!/bin/sh\n/mnt/config/debug\n", "/debug": "#!/bin/sh\n{cmd}"}, "/debug"),
    # the mount is done by a program (no mount line): the root runs the script by path
    ("referenced-only", "jffs2", "/mnt/custom",
     "/usr/bin/nohup /bin/sh {mp}/extapp.sh > /dev/null 2>&1 &\n",
     {"/extapp.sh": "{cmd}"}, "/extapp.sh"),
)


def _part(shape_files: Mapping[str, str], cmd: str) -> dict[str, str]:
    return {path: body.format(cmd=cmd) for path, body in shape_files.items()}


def _script_variants() -> Iterator[Variant]:
    for name, fmt, mp, root, part, where in SCRIPT_SHAPES:
        files = _rcs(root.format(mp=mp))
        if name == "fstab-mounted":
            files["/etc/fstab"] = STOCK_FILES["/etc/fstab"] + f"/dev/mtdblock5 {mp} jffs2 defaults 0 0\n"
        for i, cmd in enumerate((TELNET, NC)):
            if i and name not in ("xiongmai-custom", "config-sourced", "jffs-run-sh"):
                continue
            suffix = "" if i == 0 else "-nc"
            yield Variant(FAMILY, f"{name}{suffix}", files, (SHELL, where),
                          extra_parts={"config": (fmt, _part(part, cmd))}, expect_in="config")
        yield Variant(FAMILY, f"{name}-syslogd-decoy", files, None, forbid=(SHELL,),
                      extra_parts={"config": (fmt, _part(part, HARMLESS))})


def _account_variants() -> Iterator[Variant]:
    empty = "root::0:0:root:/root:/bin/sh\n"
    locked = "root:*:0:0:root:/root:/bin/sh\n"
    mount = "mount -t jffs2 /dev/mtdblock5 /mnt/config\n"
    # passwd on the configuration partition, copied over the root's at boot
    yield Variant(FAMILY, "passwd-copied", _rcs(mount + "cp /mnt/config/passwd /etc/\n"),
                  (WEAK, "/passwd"), extra_parts={"config": ("jffs2", {"/passwd": empty})},
                  expect_in="config")
    yield Variant(FAMILY, "passwd-copied-locked-decoy", _rcs(mount + "cp /mnt/config/passwd /etc/\n"),
                  None, forbid=(WEAK,), extra_parts={"config": ("jffs2", {"/passwd": locked})})
    # a name no account reader knows, copied to /etc/passwd (and by `cat >`)
    yield Variant(FAMILY, "users-db-copied", _rcs(mount + "cp -f /mnt/config/users.db /etc/passwd\n"),
                  (WEAK, "/users.db"), extra_parts={"config": ("jffs2", {"/users.db": empty})},
                  expect_in="config")
    yield Variant(FAMILY, "users-db-cat", _rcs(mount + "cat /mnt/config/accounts > /etc/shadow\n"),
                  (WEAK, "/accounts"),
                  extra_parts={"config": ("jffs2", {"/accounts": "root::19000:0:99999:7:::\n"})},
                  expect_in="config")
    yield Variant(FAMILY, "users-db-copied-locked-decoy",
                  _rcs(mount + "cp -f /mnt/config/users.db /etc/passwd\n"), None, forbid=(WEAK,),
                  extra_parts={"config": ("jffs2", {"/users.db": locked})})
    # the whole partition (or its etc folder) copied by a glob or recursively into /etc, or
    # into /tmp/etc where /etc is a link to it (the folder made at boot, absent in the image)
    glob_cp = mount + "cp -a /mnt/config/* /etc/\n"
    yield Variant(FAMILY, "passwd-glob-copied", _rcs(glob_cp), (WEAK, "/passwd"),
                  extra_parts={"config": ("jffs2", {"/passwd": empty, "/hosts": "127.0.0.1 localhost\n"})},
                  expect_in="config")
    yield Variant(FAMILY, "passwd-glob-copied-locked-decoy", _rcs(glob_cp), None, forbid=(WEAK,),
                  extra_parts={"config": ("jffs2", {"/passwd": locked, "/hosts": "127.0.0.1 localhost\n"})})
    # the folder `etc` of the partition copied over the root's, recursively
    dir_cp = mount + "cp -rf /mnt/config/etc /\n"
    shadow = {"/etc/shadow": "root::19000:0:99999:7:::\n", "/etc/group": "root:x:0:\n"}
    yield Variant(FAMILY, "shadow-dir-copied", _rcs(dir_cp), (WEAK, "/etc/shadow"),
                  extra_parts={"config": ("jffs2", shadow)}, expect_in="config")
    yield Variant(FAMILY, "shadow-dir-copied-locked-decoy", _rcs(dir_cp), None, forbid=(WEAK,),
                  extra_parts={"config": ("jffs2", {**shadow,
                                                    "/etc/shadow": "root:*:19000:0:99999:7:::\n"})})
    # the root's /etc/shadow a link into /tmp (made at boot: absent from the image), filled
    # from the partition's file of another name, as TP-Link and Tenda builds do
    to_tmp = mount + "cp -p /mnt/config/users.db /tmp/shadow\n"
    yield Variant(FAMILY, "shadow-linked-to-tmp", _rcs(to_tmp), (WEAK, "/users.db"),
                  links={"/etc/shadow": "/tmp/shadow"},
                  extra_parts={"config": ("jffs2", {"/users.db": "root::19000:0:99999:7:::\n"})},
                  expect_in="config")
    yield Variant(FAMILY, "shadow-linked-to-tmp-locked-decoy", _rcs(to_tmp), None, forbid=(WEAK,),
                  links={"/etc/shadow": "/tmp/shadow"},
                  extra_parts={"config": ("jffs2", {"/users.db": "root:*:19000:0:99999:7:::\n"})})
    # a glob of the partition's files into a folder /etc links to
    glob_tmp = mount + "mkdir -p /tmp/etc\ncp -a /mnt/config/* /tmp/etc/\n"
    yield Variant(FAMILY, "passwd-glob-copied-via-link", {**_rcs(glob_tmp)}, (WEAK, "/users.db"),
                  links={"/etc/passwd": "/tmp/etc/users.db"},
                  extra_parts={"config": ("jffs2", {"/users.db": empty})}, expect_in="config")
    yield Variant(FAMILY, "passwd-glob-copied-via-link-locked-decoy", {**_rcs(glob_tmp)}, None,
                  forbid=(WEAK,), links={"/etc/passwd": "/tmp/etc/users.db"},
                  extra_parts={"config": ("jffs2", {"/users.db": locked})})
    # the same file on the partition, never copied: no account of the device
    yield Variant(FAMILY, "users-db-uncopied-decoy", _rcs(mount), None, forbid=(WEAK,),
                  extra_parts={"config": ("jffs2", {"/users.db": empty})})


def _root_only_variants() -> Iterator[Variant]:
    # /etc a link to the read-only /etc_ro: inittab, rcS and accounts all live there
    etc_ro = {"/etc_ro/" + p[len("/etc/"):]: c for p, c in STOCK_FILES.items()}
    shell = dict(etc_ro)
    shell["/etc_ro/init.d/rcS"] = "#!/bin/sh\nmount -a\n" + TELNET
    yield Variant(FAMILY, "etc-ro-link", shell, (SHELL, "/etc_ro/init.d/rcS"),
                  links={"/etc": "/etc_ro"})
    harmless = dict(etc_ro)
    harmless["/etc_ro/init.d/rcS"] = "#!/bin/sh\nmount -a\n" + HARMLESS
    yield Variant(FAMILY, "etc-ro-link-syslogd-decoy", harmless, None, forbid=(SHELL,),
                  links={"/etc": "/etc_ro"})
    weak = dict(etc_ro)
    weak["/etc_ro/passwd"] = "root::0:0:root:/root:/bin/sh\n"
    yield Variant(FAMILY, "etc-ro-link-passwd", weak, (WEAK, "/etc_ro/passwd"),
                  links={"/etc": "/etc_ro"})
    # /usr/etc/rcS named by inittab
    yield Variant(FAMILY, "usr-etc-rcs",
                  {"/etc/inittab": "::sysinit:/usr/etc/rcS\n::respawn:-/bin/login\n",
                   "/usr/etc/rcS": "#!/bin/sh\nmount -a\n" + TELNET},
                  (SHELL, "/usr/etc/rcS"))
    yield Variant(FAMILY, "usr-etc-rcs-syslogd-decoy",
                  {"/etc/inittab": "::sysinit:/usr/etc/rcS\n::respawn:-/bin/login\n",
                   "/usr/etc/rcS": "#!/bin/sh\nmount -a\n" + HARMLESS}, None, forbid=(SHELL,))


def _other_decoys() -> Iterator[Variant]:
    # a partition nothing in the root mounts or uses: its script runs on no device
    yield Variant(FAMILY, "unmounted-partition-decoy", {}, None, forbid=(SHELL,),
                  extra_parts={"config": ("jffs2", {"/extapp.sh": "#!/bin/sh\n" + TELNET})})
    yield Variant(FAMILY, "mounted-unused-decoy",
                  _rcs("mount -t jffs2 /dev/mtdblock5 /mnt/config\n"), None, forbid=(SHELL,),
                  extra_parts={"config": ("jffs2", {"/debug.sh": "#!/bin/sh\n" + TELNET})})
    # the root only echoes the path of the partition's script
    yield Variant(FAMILY, "echoed-path-decoy",
                  _rcs("mount -t jffs2 /dev/mtdblock5 /mnt/config\n"
                       "echo 'run /mnt/config/debug.sh to debug'\n"), None, forbid=(SHELL,),
                  extra_parts={"config": ("jffs2", {"/debug.sh": "#!/bin/sh\n" + TELNET})})


def variants() -> Iterator[Variant]:
    yield from _script_variants()
    yield from _account_variants()
    yield from _root_only_variants()
    yield from _other_decoys()
