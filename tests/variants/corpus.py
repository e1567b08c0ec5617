"""One variant of a backdoor family: the files it adds to a stock BusyBox root, what a scan
must report for it (a category at a path) or, for a decoy, what it must not report.

The stock root is real: Debian's static BusyBox with the applet links a router ships, an
inittab, passwd and shadow with a locked root. A variant adds or replaces files and is packed
with mksquashfs (or the format it names) by `build`; `judge` reads a scan's findings."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from firmproof.config import ScanConfig
from firmproof.model import Finding
from firmproof.scan import scan
from firmproof.testing.fixtures import concat, pack

# BusyBox applets and where `busybox --install` puts them
APPLETS: dict[str, tuple[str, ...]] = {
    "/bin": ("sh", "ash", "ls", "cat", "echo", "sleep", "mount", "umount", "login", "ping",
             "sed", "grep", "ln", "mkdir", "hostname", "rm", "cp", "kill", "mknod"),
    "/sbin": ("ifconfig", "init", "getty", "syslogd", "klogd", "udhcpc", "start-stop-daemon",
              "reboot", "route"),
    "/usr/bin": ("nc", "wget", "nohup", "setsid", "killall", "tftp", "ftpput", "awk", "passwd",
                 "telnet", "tr", "cut", "md5sum"),
    "/usr/sbin": ("telnetd", "httpd", "crond", "inetd", "chpasswd", "ntpd"),
}
ERASE_BLOCK = 128 * 1024      # where the parts of a flash image start
STOCK_FILES: dict[str, str] = {
    "/etc/inittab": "::sysinit:/etc/init.d/rcS\n::respawn:-/bin/login\n::shutdown:/bin/umount -a -r\n",
    "/etc/init.d/rcS": "#!/bin/sh\nmount -a\n"
                       "for s in /etc/init.d/S??*; do\n  [ -x \"$s\" ] && \"$s\" start\ndone\n",
    "/etc/init.d/S10network": "#!/bin/sh\ncase \"$1\" in\n  start) ifconfig lo 127.0.0.1 up ;;\nesac\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "/etc/shadow": "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
    "/etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "/etc/fstab": "proc /proc proc defaults 0 0\n",
    "/etc/hostname": "router\n",
}


@dataclass(frozen=True)
class Variant:
    family: str
    name: str
    files: Mapping[str, str | bytes]          # image path -> content (scripts made executable)
    expect: tuple[str, str] | None            # (category, path) a scan must report; None: decoy
    links: Mapping[str, str] = field(default_factory=dict)   # image path -> link target
    fmt: str = "squashfs-xz"
    # categories a decoy must not get at all (a true variant: none but `expect`'s is checked)
    forbid: tuple[str, ...] = ()
    programs: Mapping[str, Path] = field(default_factory=dict)  # image path -> a built program
    # a shape the scanner does not find yet: the test expects the miss (strict), so that the
    # day it is found the mark must go; bench/detection.py counts it as a miss
    known_miss: str | None = None
    # more file systems of the device: name -> (format, files), each laid after the root (and
    # after the one before it) in one flash image by `concat`, at an erase-block boundary
    extra_parts: Mapping[str, tuple[str, Mapping[str, str | bytes]]] = field(default_factory=dict)
    # the part of `extra_parts` that holds `expect`'s path: the finding's path is the path inside
    # that file system and its container names that file system (not the root's)
    expect_in: str | None = None

    @property
    def decoy(self) -> bool:
        return self.expect is None

    @property
    def ident(self) -> str:
        return f"{self.family}/{self.name}"


@dataclass(frozen=True)
class Verdict:
    found: bool                 # the expected finding is there (true variants)
    false_alarms: tuple[Finding, ...]  # findings of a forbidden category (decoys)


def busybox() -> Path:
    path = shutil.which("busybox")
    if path is None:
        raise FileNotFoundError("busybox not found (Debian package busybox-static; make setup)")
    return Path(path)


def stock_root(root: Path) -> None:
    """A stock BusyBox root: the real static BusyBox, its applet links, stock /etc."""
    for folder in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "root", "tmp", "proc",
                   "var/run", "lib"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(busybox(), root / "bin" / "busybox")
    (root / "bin" / "busybox").chmod(0o755)
    for folder, applets in APPLETS.items():
        for applet in applets:
            (root / folder.lstrip("/") / applet).symlink_to(
                "busybox" if folder == "/bin" else "/bin/busybox")
    write_files(root, STOCK_FILES)


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
        if data.startswith((b"#!", b"\x7fELF")) or "/init.d/" in name or name.endswith(".sh"):
            path.chmod(0o755)


def build(variant: Variant, folder: Path) -> Path:
    """The variant's image in `folder` (its root tree beside it)."""
    root = folder / "root"
    stock_root(root)
    write_files(root, variant.files)
    for name, program in variant.programs.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        shutil.copyfile(program, path)
        path.chmod(0o755)
    for name, target in variant.links.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)         # a folder of the stock root made a link (/etc -> /etc_ro)
        elif path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)
    image = pack(root, variant.fmt, folder / f"image.{variant.fmt}")
    if not variant.extra_parts:
        return image
    parts = [(0, image)]
    end = image.stat().st_size
    for i, (fmt, files) in enumerate(variant.extra_parts.values()):
        tree = folder / f"part{i}"
        tree.mkdir()
        write_files(tree, files)
        offset = -(-end // ERASE_BLOCK) * ERASE_BLOCK
        part = pack(tree, fmt, folder / f"part{i}.{fmt}")
        parts.append((offset, part))
        end = offset + part.stat().st_size
    return concat(parts, folder / "flash.bin")


def scan_image(image: Path, work: Path) -> list[Finding]:
    """The findings of a real scan of `image` (in process: the same scan as the CLI's)."""
    result = scan(ScanConfig(image=image, workdir=work))
    return list(result.findings)


def judge(variant: Variant, findings: Iterable[Finding]) -> Verdict:
    findings = list(findings)
    if variant.expect is not None:
        category, path = variant.expect
        found = any(f.category.value == category and _at(f, path)
                    and _in_part(variant, f.container) for f in findings)
        return Verdict(found, ())
    bad = tuple(f for f in findings if f.category.value in variant.forbid)
    return Verdict(False, bad)


def _at(finding: Finding, path: str) -> bool:
    """The finding is at `path`, or in the program upx unpacked from the packed file at `path`
    (a layer of its own below that file: container (…, path, 'elf@0x0'))."""
    if finding.path == path:
        return True
    return finding.container[-2:-1] == (path,) and finding.container[-1].startswith("elf@")


def _in_part(variant: Variant, container: tuple[str, ...]) -> bool:
    """The finding's container is the file system `expect` names: the root (packed first, at
    offset 0) or, with `expect_in`, that extra part (a container of its format family)."""
    if not variant.extra_parts:
        return True
    label = container[-1] if container else ""
    if variant.expect_in is None:
        return label.endswith("@0x0")
    fmt = variant.extra_parts[variant.expect_in][0]
    return label.startswith(fmt.split("-")[0]) and not label.endswith("@0x0")
