"""Build a demo router image from real Debian binaries, with a few planted backdoors.

`make demo` scans what this builds; the tests build their images with the same code.
The root file system holds Debian's static BusyBox with its applet links, an inittab,
boot scripts, accounts and keys made with the real tools (openssl, ssh-keygen), packed
with mksquashfs and wrapped in a U-Boot legacy header with mkimage, like a router's
firmware.

    python -m firmproof.testing.demo OUT.bin [--clean]
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from firmproof.host.tools import missing_message, which
from firmproof.testing.fixtures import PackError, pack, uimage

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
APPLETS = ("sh", "ash", "ls", "cat", "echo", "mount", "telnetd", "login", "getty", "nc", "ifconfig",
           "udhcpc", "httpd", "syslogd", "klogd", "init", "reboot", "wget", "vi", "ps", "kill")

# what can be planted, by name
PLANTS = ("weak-root-password", "telnetd-shell", "serial-root-shell", "authorized-key",
          "private-key", "setuid-shell", "nc-bind-shell")
DECOYS = ("commented-telnetd", "getty-login", "ca-certificate", "locked-accounts", "help-text")


class BuildError(RuntimeError):
    """A tool needed to build the image is missing or failed."""


def _run(*cmd: str, cwd: Path | None = None) -> None:
    if which(cmd[0]) is None:
        raise BuildError(missing_message([cmd[0]]))
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}")


def busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise BuildError(missing_message(["busybox"]))


def md5_crypt(password: str, salt: str) -> str:
    """A real MD5-crypt hash made by openssl, as a vendor's build would ship it."""
    openssl = which("openssl")
    if openssl is None:
        raise BuildError(missing_message(["openssl"]))
    out = subprocess.run([openssl, "passwd", "-1", "-salt", salt, password],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _write(root: Path, path: str, content: str | bytes, mode: int = 0o644) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    target.write_bytes(content)
    os.chmod(target, mode)
    return target


def build_rootfs(root: Path, plants: Iterable[str] = PLANTS, decoys: Iterable[str] = DECOYS) -> Path:
    """Lay out a small router root file system under `root` with the chosen plants and decoys."""
    plants, decoys = set(plants), set(decoys)
    unknown = (plants - set(PLANTS)) | (decoys - set(DECOYS))
    if unknown:
        raise ValueError(f"unknown plants/decoys: {sorted(unknown)}")
    for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "lib", "etc/init.d", "dev", "proc", "sys",
                      "tmp", "var/run", "root", "www"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(busybox(), root / "bin/busybox")
    os.chmod(root / "bin/busybox", 0o755)
    for applet in APPLETS:
        link = root / ("sbin" if applet in ("init", "getty", "ifconfig", "udhcpc", "syslogd",
                                            "klogd", "reboot") else "bin") / applet
        if not link.exists():
            os.symlink("/bin/busybox", link)
    os.symlink("/bin/busybox", root / "usr/sbin/telnetd")

    root_hash = md5_crypt("admin", "dEmO1234") if "weak-root-password" in plants else "!"
    shadow = [f"root:{root_hash}:19000:0:99999:7:::"]
    passwd = ["root:x:0:0:root:/root:/bin/sh"]
    if "locked-accounts" in decoys:
        shadow += ["daemon:*:19000:0:99999:7:::", "nobody:!:19000:0:99999:7:::",
                   f"support:{md5_crypt('Vq8#tLm2!xR9pZ', 'S7r0nGxx')}:19000:0:99999:7:::"]
        passwd += ["daemon:x:1:1:daemon:/usr/sbin:/bin/false", "nobody:x:65534:65534::/:/bin/false",
                   "support:x:1000:1000::/home/support:/bin/sh"]
    _write(root, "/etc/passwd", "\n".join(passwd) + "\n")
    _write(root, "/etc/shadow", "\n".join(shadow) + "\n", 0o600)
    _write(root, "/etc/group", "root:x:0:\ndaemon:x:1:\n")

    inittab = ["::sysinit:/etc/init.d/rcS"]
    if "serial-root-shell" in plants:
        inittab.append("ttyS0::respawn:/bin/sh")
    if "getty-login" in decoys:
        inittab.append("ttyS1::respawn:/sbin/getty -L ttyS1 115200 vt100")
    inittab += ["::ctrlaltdel:/sbin/reboot", "::shutdown:/bin/umount -a -r"]
    _write(root, "/etc/inittab", "\n".join(inittab) + "\n")

    rcs = ["#!/bin/sh", "mount -t proc proc /proc", "mount -t sysfs sysfs /sys",
           "/sbin/syslogd", "/etc/init.d/S50network start"]
    if "telnetd-shell" in plants:
        rcs.append("/usr/sbin/telnetd -l /bin/sh -p 2323 &")
    if "commented-telnetd" in decoys:
        rcs.append("# telnetd -l /bin/sh   (debug builds only)")
    if "nc-bind-shell" in plants:
        rcs.append("nc -l -p 31337 -e /bin/sh &")
    rcs.append("httpd -h /www -p 80")
    _write(root, "/etc/init.d/rcS", "\n".join(rcs) + "\n", 0o755)
    _write(root, "/etc/init.d/S50network", "#!/bin/sh\nifconfig lo 127.0.0.1 up\nudhcpc -i eth0 -b\n", 0o755)
    _write(root, "/www/index.html", "<html><body><h1>Demo router</h1></body></html>\n")
    if "help-text" in decoys:
        _write(root, "/usr/bin/setpw", "#!/bin/sh\n# usage: setpw USER\n"
               "echo 'Enter the new password for the admin account.'\n"
               "echo 'The password must not be empty.'\n", 0o755)

    keydir = Path(tempfile.mkdtemp(prefix="firmproof-demo-keys-"))
    try:
        if "authorized-key" in plants:
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vendor-support@factory",
                 "-f", str(keydir / "support"))
            pub = (keydir / "support.pub").read_text()
            (root / "root/.ssh").mkdir(parents=True, exist_ok=True)
            os.chmod(root / "root/.ssh", 0o700)
            _write(root, "/root/.ssh/authorized_keys", pub, 0o600)
        if "private-key" in plants:
            _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", str(keydir / "server.key"))
            _write(root, "/etc/ssl/private/server.key", (keydir / "server.key").read_bytes(), 0o600)
        if "ca-certificate" in decoys:
            _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                 "-subj", "/CN=Demo Root CA", "-keyout", str(keydir / "ca.key"),
                 "-out", str(keydir / "ca.pem"))
            _write(root, "/etc/ssl/certs/ca-certificates.crt", (keydir / "ca.pem").read_bytes())
    finally:
        shutil.rmtree(keydir, ignore_errors=True)

    if "setuid-shell" in plants:
        shutil.copyfile(busybox(), root / "usr/bin/.sysd")
        os.chmod(root / "usr/bin/.sysd", 0o755 | stat.S_ISUID)
    return root


def build_image(out: Path, *, plants: Iterable[str] = PLANTS, decoys: Iterable[str] = DECOYS,
                fmt: str = "squashfs-xz", wrap_uimage: bool = True) -> Path:
    """A router-like firmware image: the root file system packed with `fmt`, in a uImage."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="firmproof-demo-") as tmp:
        tree = build_rootfs(Path(tmp) / "rootfs", plants, decoys)
        packed = pack(tree, fmt, Path(tmp) / f"rootfs.{fmt}")
        if wrap_uimage:
            uimage(packed, out, name="firmproof demo router")
        else:
            shutil.copyfile(packed, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="build the firmproof demo image")
    parser.add_argument("out", type=Path)
    parser.add_argument("--clean", action="store_true", help="no planted backdoors, decoys only")
    args = parser.parse_args(argv)
    try:
        build_image(args.out, plants=() if args.clean else PLANTS)
    except (BuildError, PackError) as exc:
        print(f"firmproof demo: {exc}", file=sys.stderr)
        return 2
    print(f"demo image: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
