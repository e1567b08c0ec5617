"""FP-ANDROID-001…008: debug switches, su binaries, permissive SELinux, root shells from init.

Each rule's hit and decoy are in the rule table (tests/rules/cases_android.py); here, what
more the analyzer says of them.
"""

from __future__ import annotations

from pathlib import Path

from firmproof.analyzers.android import Android
from firmproof.fs.rootfs import RootFS
from firmproof.model import Finding, Severity

from .conftest import corpus_ramdisk_tree, real_elf


def run(files: dict[str, bytes | str], **kwargs: object) -> list[Finding]:
    fs = RootFS.from_files(files, **kwargs)  # type: ignore[arg-type]
    return list(Android().run(fs))


def by_rule(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for finding in findings:
        out.setdefault(finding.rule.id, []).append(finding)
    return out


def excerpt(finding: Finding) -> str:
    return finding.evidence.excerpt


def test_persist_adb_port_in_default_prop() -> None:
    found = by_rule(run({"/default.prop": "persist.adb.tcp.port=4444\n"}))
    assert found["FP-ANDROID-004"][0].details["port"] == 4444


def test_su_binary_setuid_is_critical_and_plain_is_high() -> None:
    elf = real_elf()
    found = run({"/system/xbin/su": elf, "/sbin/daemonsu": elf},
                modes={"/system/xbin/su": 0o6755, "/sbin/daemonsu": 0o755})
    su = {f.path: f for f in found if f.rule.id == "FP-ANDROID-006"}
    assert su["/system/xbin/su"].severity is Severity.CRITICAL
    assert su["/system/xbin/su"].details["setuid_root"] is True
    assert su["/sbin/daemonsu"].severity is Severity.HIGH
    assert su["/system/xbin/su"].evidence.excerpt.startswith("\\x7fELF")


def test_su_of_a_linux_root_is_no_android_finding() -> None:
    """A GNU/Linux or BusyBox /bin/su asks for the target's password: only an Android tree
    (property file, init.rc, /system or /vendor) makes a su in a bin folder a debug switch."""
    elf = real_elf()
    linux = {"/usr/bin/su": elf, "/bin/su": elf, "/etc/os-release": "ID=debian\n"}
    setuid = {"/usr/bin/su": 0o4755, "/bin/su": 0o4755}
    assert run(linux, modes=setuid) == []
    ramdisk = run({**linux, "/default.prop": "ro.secure=1\n"}, modes=setuid)
    assert sorted(f.path for f in ramdisk if f.rule.id == "FP-ANDROID-006") == ["/bin/su", "/usr/bin/su"]


def test_root_services_shell_su_and_listener() -> None:
    rc = ("service rootsh /system/bin/sh\n    class main\n\n"
          "service amigosu /system/xbin/amigosu --daemon\n    class main\n"
          "    socket amigosu stream 0666 root root\n\n"
          "service backdoor /system/bin/busybox telnetd -l /system/bin/sh -p 2323\n    class main\n")
    found = {f.details["service"]: f for f in run({"/vendor/etc/init/x.rc": rc})
             if f.rule.id == "FP-ANDROID-008"}
    assert excerpt(found["rootsh"]) == "service rootsh /system/bin/sh"
    assert found["amigosu"].details["kind"] == "su-daemon"
    assert found["amigosu"].severity is Severity.CRITICAL      # world-writable socket
    assert found["backdoor"].details["kind"] == "listener"


def test_blu_ramdisk_amigosu_daemon(tmp_path: Path) -> None:
    """The real BLU Vivo XL4 ramdisk starts a root su daemon with a world-writable socket."""
    tree = corpus_ramdisk_tree(tmp_path)
    files = {"/" + str(p.relative_to(tree)): p.read_bytes()
             for p in tree.rglob("*.rc") if p.is_file() and not p.is_symlink()}
    found = [f for f in run(files) if f.rule.id == "FP-ANDROID-008"]
    assert [f.details["service"] for f in found] == ["amigosu"]
    assert found[0].path == "/init.rc"
    assert excerpt(found[0]) == "service amigosu /system/xbin/amigosu --daemon"
    # its `console` service runs as user shell and stays disabled: not a finding
    assert not [f for f in found if f.details["service"] == "console"]


def test_cmdline_outside_a_boot_image_is_not_read() -> None:
    """Only the `cmdline` the boot-image handler writes (next to kernel/ramdisk) is a kernel
    command line; a file of that name elsewhere is not."""
    line = "console=ttyS0 androidboot.selinux=permissive\n"
    assert run({"/etc/cmdline": line}) == []
    found = by_rule(run({"/cmdline": line, "/kernel": b"\x00" * 64}))
    assert found["FP-ANDROID-007"][0].evidence.offset == line.index("androidboot")


def test_a_root_shell_service_init_does_not_start_is_medium() -> None:
    """With init.rc in the tree: a `disabled` root shell no action starts, and one in an .rc
    file nothing imports, are latent (medium); the same service started by `on boot` stays
    high, and one enabled by default in an imported file stays as before."""
    init = ("import /vendor/etc/init/${ro.hardware}.rc\n\n"
            "on boot\n    start dbgsh\n\n"
            "service dbgsh /system/bin/sh\n    class main\n    disabled\n\n"
            "service idlesh /system/bin/sh\n    class main\n    disabled\n")
    found = {f.details["service"]: f for f in run({
        "/init.rc": init,
        "/vendor/etc/init/board.rc": "service boardsh /system/bin/sh\n    class main\n",
        "/vendor/etc/debug/extra.rc": "service extrash /system/bin/sh\n    class main\n",
    }) if f.rule.id == "FP-ANDROID-008"}
    assert found["dbgsh"].severity is Severity.HIGH and "started" not in found["dbgsh"].details
    assert found["boardsh"].severity is Severity.HIGH
    for latent in ("idlesh", "extrash"):
        assert found[latent].severity is Severity.MEDIUM, latent
        assert found[latent].details["started"] is False
