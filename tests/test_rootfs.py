from __future__ import annotations

from firmproof.fs.rootfs import RootFS, normalize


def test_normalize_never_climbs_above_root():
    assert normalize("/a/./b/../c") == "/a/c"
    assert normalize("../../../etc/passwd") == "/etc/passwd"
    assert normalize("/") == "/"


def make_fs() -> RootFS:
    return RootFS.from_files(
        {"/bin/busybox": b"\x7fELF\x01\x01\x01" + b"\0" * 60, "/etc/passwd": "root:x:0:0::/root:/bin/sh\n",
         "/etc/real/shadow": "root::0:0:::::\n"},
        modes={"/etc/real/shadow": 0o600},
        links={"/bin/sh": "/bin/busybox", "/bin/rel": "busybox", "/etc/shadow": "real/shadow",
               "/etc/escape": "../../../../../etc/passwd", "/loop1": "/loop2", "/loop2": "/loop1",
               "/lib": "/usr/lib"})


def test_absolute_and_relative_links_resolve_inside_the_image():
    fs = make_fs()
    assert fs.resolve("/bin/sh") == "/bin/busybox"
    assert fs.resolve("/bin/rel") == "/bin/busybox"
    assert fs.read("/etc/shadow") == b"root::0:0:::::\n"
    assert fs.stat("/etc/shadow").mode == 0o600


def test_escaping_link_is_clamped_to_the_image_root():
    fs = make_fs()
    assert fs.resolve("/etc/escape") == "/etc/passwd"
    assert fs.read("/etc/escape") == b"root:x:0:0::/root:/bin/sh\n"


def test_loops_and_dangling_links_give_none():
    fs = make_fs()
    assert fs.resolve("/loop1") is None
    assert fs.read("/lib/libc.so") is None
    assert not fs.exists("/nope")


def test_subview_keeps_report_paths():
    fs = make_fs()
    sub = fs.subview("/etc")
    assert sub.read("/passwd") == b"root:x:0:0::/root:/bin/sh\n"
    assert sub.entry("/passwd").report_path == "/etc/passwd"


def test_listdir_and_glob():
    fs = make_fs()
    assert sorted(fs.listdir("/bin")) == ["busybox", "rel", "sh"]
    assert [e.path for e in fs.glob("/etc/*shadow")] == ["/etc/shadow"]


def test_device_lays_a_partition_at_its_mount_point_and_maps_it_back():
    root = RootFS.from_files({"/etc/passwd": "root:x:0:0::/root:/bin/sh\n",
                              "/mnt/custom/placeholder": "hidden by the mount\n"},
                             links={"/root/.ssh/authorized_keys": "/mnt/custom/keys"},
                             container=("flash.bin", "squashfs@0x0"))
    part = RootFS.from_files({"/extapp.sh": "#!/bin/sh\n", "/keys": "ssh-ed25519 AAAA\n",
                              "/users": "root::0:0::/root:/bin/sh\n"},
                             container=("flash.bin", "jffs2@0x100000"))
    device = root.device([("/mnt/custom", part)], [("/mnt/custom/users", "/etc/passwd")])
    assert device.read("/mnt/custom/extapp.sh") == b"#!/bin/sh\n"
    assert device.read("/root/.ssh/authorized_keys") == b"ssh-ed25519 AAAA\n"
    assert not device.exists("/mnt/custom/placeholder")
    assert device.read("/etc/passwd") == b"root::0:0::/root:/bin/sh\n"
    script = device.entry("/mnt/custom/extapp.sh")
    assert script is not None
    assert device.relocate(script.report_path) == (("flash.bin", "jffs2@0x100000"), "/extapp.sh")
    passwd = device.entry("/etc/passwd")
    assert passwd is not None
    assert device.relocate(passwd.report_path) == (("flash.bin", "jffs2@0x100000"), "/users")
    assert device.relocate("/etc/hostname") == (("flash.bin", "squashfs@0x0"), "/etc/hostname")
    # a part of the device keeps the way back
    assert device.part(["/etc/passwd"]).origins is device.origins
