"""FP-CON-001…003: shells on consoles and in the kernel command line (firmproof/analyzers/consoles.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .case import Kit, hit, miss


def inittab(line: str) -> dict[str, str]:
    return {"/etc/inittab": f"::sysinit:/etc/init.d/rcS\n{line}\n"}


def uboot_env(bootargs: str):
    """A U-Boot environment partition written by mkenvimage (CRC and all)."""
    def build(kit: Kit) -> dict[str, bytes]:
        work = kit.tmp / ("env-" + hashlib.sha256(bootargs.encode()).hexdigest()[:12])
        work.mkdir(exist_ok=True)
        text = Path(work / "env.txt")
        text.write_text(f"bootdelay=1\nbaudrate=115200\nbootargs={bootargs}\nbootcmd=bootm 0x9f020000\n")
        kit.run("mkenvimage", "-s", "0x1000", "-o", work / "env.bin", text)
        return {"/uboot-env.bin": (work / "env.bin").read_bytes()}
    return build


SHELL_ARGS = "console=ttyS0,115200 root=/dev/mtdblock2 rootfstype=squashfs init=/bin/sh"

CASES = [
    hit("FP-CON-001", "inittab-respawns-a-shell", inittab("ttyS0::respawn:/bin/sh"), "/etc/inittab",
        b"ttyS0::respawn:/bin/sh", details={"tty": "ttyS0", "action": "respawn"}),
    miss("FP-CON-001", "commented-out", inittab("#ttyS0::respawn:/bin/sh"), silent=True),
    miss("FP-CON-001", "getty-asks-for-a-login", inittab("ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100"),
         silent=True),

    hit("FP-CON-002", "agetty-autologin-root",
        inittab("T0:23:respawn:/sbin/agetty --autologin root -L ttyS0 115200 vt100"), "/etc/inittab",
        b"T0:23:respawn:/sbin/agetty --autologin root -L ttyS0 115200 vt100"),
    miss("FP-CON-002", "agetty-autologin-unprivileged",
         inittab("T0:23:respawn:/sbin/agetty --autologin pi -L ttyS0 115200"), silent=True),

    hit("FP-CON-003", "uboot-environment-init-shell", uboot_env(SHELL_ARGS), "/uboot-env.bin",
        f"bootargs={SHELL_ARGS}".encode(), details={"init": "/bin/sh"}),
    hit("FP-CON-003", "raspberry-pi-cmdline",
        {"/boot/cmdline.txt": "console=serial0,115200 console=tty1 root=/dev/mmcblk0p2 rdinit=/bin/ash\n"},
        "/boot/cmdline.txt", b"console=serial0,115200 console=tty1 root=/dev/mmcblk0p2 rdinit=/bin/ash"),
    miss("FP-CON-003", "uboot-environment-stock-init",
         uboot_env("console=ttyS0,115200 root=31:02 rootfstype=squashfs init=/sbin/init")),
    miss("FP-CON-003", "commented-setenv",
         {"/etc/fw_env.txt": "# setenv bootargs console=ttyS0 root=/dev/sda1 init=/bin/sh\n"}),
]
