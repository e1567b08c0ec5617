from __future__ import annotations

from firmproof.rootfs import RootFS, normalize


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
