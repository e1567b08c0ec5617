"""UPX-packed programs in a real SquashFS root: compiled with gcc, packed with upx, unpacked by
the scan with `upx -d` (unblob's ELF handler), and read by the ELF analyzers; a stub whose
magic was replaced with sed (as malware does against `upx -d`) leaves the scan incomplete."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import need_tools, scan_report

from firmproof.config import Limits
from firmproof.device.inventory import holdings, inventory
from firmproof.fs.filetype import ELF, PACKED, classify, upx_l_info
from firmproof.testing.fixtures import pack
from firmproof.unpack.driver import unpack

from .conftest import unpacked_evidence, verify_holds

SRC = Path(__file__).resolve().parent / "src"
PLACED = {
    # path in the image -> program packed with upx (dynamic, -O2)
    "usr/sbin/loginx": "login_master",      # master password: FP-HCRED-001
    "usr/sbin/udpd": "udp_trigger",          # magic packet starts telnetd: FP-TRIG-001
    "bin/checkpw": "login_hash",             # decoy: compares with the shadow hash
    "usr/sbin/echod": "udp_echo",            # decoy: a UDP echo, no trigger
}
MODIFIED_MAGIC = "YTS\\x99"                   # sed's replacement for UPX! (a Mirai-like stub)


def _build(out: Path, program: str) -> Path:
    subprocess.run(["gcc", "-O2", "-o", str(out), str(SRC / f"{program}.c")], check=True,
                   capture_output=True)
    return out


def _upx(src: Path, out: Path) -> Path:
    subprocess.run(["upx", "-q", "-o", str(out), str(src)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each program plain, packed, and (login_master) packed then modified with sed."""
    need_tools("gcc", "upx", "sed", "mksquashfs")
    folder = tmp_path_factory.mktemp("upx")
    out: dict[str, Path] = {}
    for program in sorted(set(PLACED.values())):
        plain = _build(folder / program, program)
        out[program] = plain
        out[program + ".upx"] = _upx(plain, folder / f"{program}.upx")
    modified = folder / "login_master.mod"
    with modified.open("wb") as handle:
        subprocess.run(["sed", f"s/UPX!/{MODIFIED_MAGIC}/g", str(out["login_master.upx"])],
                       check=True, stdout=handle, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    out["login_master.mod"] = modified
    return out


def test_packed_programs_are_searched_plain_ones_are_not(programs: dict[str, Path]) -> None:
    for name, path in programs.items():
        head = path.read_bytes()[:4096]
        assert classify(head, "/usr/sbin/x") == (PACKED if "." in name else ELF), name
    modified = programs["login_master.mod"].read_bytes()
    assert b"UPX!" not in modified and len(modified) == programs["login_master.upx"].stat().st_size


def test_findings_point_into_the_unpacked_program_and_verify_holds(
        programs: dict[str, Path], tmp_path: Path) -> None:
    tree = tmp_path / "rootfs"
    for rel, program in PLACED.items():
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(programs[program + ".upx"].read_bytes())
        target.chmod(0o755)
    (tree / "etc").mkdir()
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    image = pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    report = scan_report(image, tmp_path)
    assert report["coverage"]["incomplete"] == []
    layers = {c["path"] for c in report["unpack"]["containers"]}
    assert {f"squashfs@0x0/{rel}/elf@0x0" for rel in PLACED} <= layers
    wanted = [f for f in report["findings"] if f["rule"] in ("FP-HCRED-001", "FP-TRIG-001")]
    got = sorted((f["rule"], "/".join(f["container"][1:]), f["path"]) for f in wanted)
    assert got == [("FP-HCRED-001", "squashfs@0x0//usr/sbin/loginx/elf@0x0", "/loginx.elf"),
                   ("FP-TRIG-001", "squashfs@0x0//usr/sbin/udpd/elf@0x0", "/udpd.elf")]
    for finding in wanted:
        # the evidence is in the program upx -d gives back, not in the packed file
        packed = tree / finding["container"][2].lstrip("/")
        key = "literal" if finding["rule"] == "FP-HCRED-001" else "command"
        assert unpacked_evidence(finding, packed, tmp_path) == finding["details"][key].encode()
    # the decoys, packed the same way, give nothing
    decoys = (["/bin/checkpw"], ["/usr/sbin/echod"])
    assert not [f for f in report["findings"] if f["container"][2:3] in decoys
                and f["rule"].startswith(("FP-HCRED", "FP-TRIG", "FP-SVC"))]
    verify_holds(report, image, tmp_path)


def test_a_stub_upx_cannot_unpack_leaves_the_scan_incomplete(
        programs: dict[str, Path], tmp_path: Path) -> None:
    """Today's silent clean: the modified stub was an ELF file, never searched, analyzers read
    the stub and found nothing, and the scan said complete."""
    tree = tmp_path / "rootfs"
    (tree / "usr/sbin").mkdir(parents=True)
    (tree / "usr/sbin/loginm").write_bytes(programs["login_master.mod"].read_bytes())
    # a damaged download: 64 bytes of the compressed program flipped (just past UPX's headers
    # after the l_info), UPX! left in place
    packed = programs["login_master.upx"].read_bytes()
    found = upx_l_info(packed[:4096])
    assert found is not None
    damaged = bytearray(packed)
    body = found[0] + 48
    damaged[body:body + 64] = bytes(b ^ 0x5A for b in damaged[body:body + 64])
    (tree / "usr/sbin/loginc").write_bytes(damaged)
    # the loader stub altered (bytes flipped in its middle): unblob's checksum of the stub
    # refuses it, `upx -d` (which does not need the stub) gives the program back whole
    stub = bytearray(packed)
    middle = len(stub) // 2
    stub[middle:middle + 64] = bytes(b ^ 0x5A for b in stub[middle:middle + 64])
    (tree / "usr/sbin/loginl").write_bytes(stub)
    image = pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    report = scan_report(image, tmp_path, incomplete=True)
    entries = {e["path"]: e for e in report["coverage"]["incomplete"]}
    assert set(entries) == {"squashfs@0x0/usr/sbin/loginm/elf@0x0", "squashfs@0x0/usr/sbin/loginc/elf@0x0"}
    assert {e["kind"] for e in entries.values()} == {"unpack-error"}
    modified = entries["squashfs@0x0/usr/sbin/loginm/elf@0x0"]["reason"]
    assert "UPX-packed program" in modified and "not b'UPX!'" in modified and "not examined" in modified
    broken = entries["squashfs@0x0/usr/sbin/loginc/elf@0x0"]["reason"]
    assert broken == "upx exited 1: upx: loginc: Exception: compressed data violation"
    layers = {c["path"] for c in report["unpack"]["containers"]}
    assert "squashfs@0x0/usr/sbin/loginl/elf@0x0" in layers
    (hit,) = [f for f in report["findings"] if f["rule"] == "FP-HCRED-001"]
    assert hit["container"][2:] == ["/usr/sbin/loginl", "elf@0x0"]
    assert not [f for f in report["findings"] if f["rule"].startswith(("FP-HCRED", "FP-TRIG"))
                and f["container"][2:3] != ["/usr/sbin/loginl"]]


def test_the_inventory_lists_each_packed_program_once_at_its_path(
        programs: dict[str, Path], tmp_path: Path) -> None:
    """A packed program unpacked is one executable at its path in the file system, by its packed
    bytes and the unpacked program's; one upx cannot unpack is listed too, marked not unpacked
    (it was missing: a PACKED file is no ELF file); a plain program is listed as before."""
    tree = tmp_path / "rootfs"
    placed = {"usr/sbin/udpd": programs["udp_trigger.upx"], "usr/sbin/loginm": programs["login_master.mod"],
              "bin/checkpw": programs["login_hash"]}
    for rel, source in placed.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(source.read_bytes())
    (tree / "etc").mkdir()
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    image = pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    sha = {rel: hashlib.sha256(source.read_bytes()).hexdigest() for rel, source in placed.items()}
    unpacked = tmp_path / "udpd.elf"
    subprocess.run(["upx", "-q", "-d", "-o", str(unpacked), str(programs["udp_trigger.upx"])], check=True,
                   capture_output=True)
    plain = hashlib.sha256(unpacked.read_bytes()).hexdigest()
    assert plain not in sha.values()
    work = tmp_path / "work"
    work.mkdir()
    result = unpack(image, work, Limits())
    assert "squashfs@0x0/usr/sbin/udpd/elf@0x0" in {c["path"] for c in result.containers()}

    sections = inventory(result.layers).sections
    assert sections["executables"] == {
        "/usr/sbin/udpd": f"{sha['usr/sbin/udpd']} upx-packed, unpacked {plain}",
        "/usr/sbin/loginm": f"{sha['usr/sbin/loginm']} upx-packed, not unpacked",
        "/bin/checkpw": sha["bin/checkpw"]}
    assert {k: v for k, v in sections["files"].items() if k != "/etc/passwd"} == {
        f"/{rel}": digest for rel, digest in sha.items()}

    held = holdings(result.layers).executables
    got = sorted((e.path, e.container[1:], e.sha256, e.packer, e.unpacked_sha256, e.size) for e in held)
    assert got == sorted([
        ("/usr/sbin/udpd", ("squashfs@0x0",), sha["usr/sbin/udpd"], "upx", plain,
         programs["udp_trigger.upx"].stat().st_size),
        ("/usr/sbin/loginm", ("squashfs@0x0",), sha["usr/sbin/loginm"], "upx", None,
         programs["login_master.mod"].stat().st_size),
        ("/bin/checkpw", ("squashfs@0x0",), sha["bin/checkpw"], None, None,
         programs["login_hash"].stat().st_size)])

    # the store keeps both hashes: `db executable` finds the image by the packed bytes or by the
    # program they unpack to; a program no image ships finds nothing
    from firmproof.batch import scan_with_inventory
    from firmproof.config import ScanConfig
    from firmproof.store import add_report, open_store
    from firmproof.store.query import executable

    report, held_by_scan = scan_with_inventory(ScanConfig(image=image, workdir=work))
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        add_report(store, report, inventory=held_by_scan)
        for wanted in (sha["usr/sbin/udpd"], plain.upper()):
            rows = executable(store, wanted)
            assert [(r["path"], r["packer"], r["sha256"], r["unpacked_sha256"]) for r in rows] == \
                [("/usr/sbin/udpd", "upx", sha["usr/sbin/udpd"], plain)]
        assert [(r["path"], r["unpacked_sha256"]) for r in executable(store, sha["usr/sbin/loginm"])] == \
            [("/usr/sbin/loginm", None)]
        assert [r["packer"] for r in executable(store, sha["bin/checkpw"])] == [None]
        assert executable(store, hashlib.sha256(b"no such program").hexdigest()) == []
    finally:
        store.close()


BIND_SHELL = """#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static char table[65536] = {1};     /* room for upx to pack */
int main(void)
{
    struct sockaddr_in a;
    int c, s = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(table[0] + 31336);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 1);
    c = accept(s, 0, 0);
    dup2(c, 0); dup2(c, 1); dup2(c, 2);
    execl("/bin/sh", "sh", (char *)0);
    return 0;
}
"""


def _boot_image(tmp_path: Path, name: str, daemons: dict[str, bytes]) -> Path:
    """A root whose rcS starts each of `daemons` (path -> program) in the background."""
    tree = tmp_path / name
    for path, data in daemons.items():
        (tree / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tree / path.lstrip("/")).write_bytes(data)
        (tree / path.lstrip("/")).chmod(0o755)
    (tree / "etc/init.d").mkdir(parents=True)
    (tree / "etc/inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    (tree / "etc/init.d/rcS").write_text("#!/bin/sh\n" + "".join(f"{p} &\n" for p in daemons))
    (tree / "etc/init.d/rcS").chmod(0o755)
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tree / "bin").mkdir()
    return pack(tree, "squashfs-xz", tmp_path / f"{name}.sqfs")


def test_a_packed_program_started_at_boot_is_judged_by_what_it_unpacks_to(
        programs: dict[str, Path], tmp_path: Path) -> None:
    """The boot chain's rules read the program upx gives back, not the packed bytes: a packed
    bind shell started by rcS is the finding its plain build gives (FP-SVC-008 at the line of
    rcS), naming the packed file's sha256 beside the program's; a packed UDP echo daemon
    started the same way stays silent."""
    source = tmp_path / "bindshell.c"
    source.write_text(BIND_SHELL)
    plain = tmp_path / "bindshell"
    subprocess.run(["gcc", "-O2", "-o", str(plain), str(source)], check=True, capture_output=True)
    subprocess.run(["strip", str(plain)], check=True, capture_output=True)
    packed = _upx(plain, tmp_path / "bindshell.upx")
    daemons = {"/usr/sbin/netd": plain.read_bytes(), "/usr/sbin/echod": programs["udp_echo"].read_bytes()}
    daemons_packed = {"/usr/sbin/netd": packed.read_bytes(),
                      "/usr/sbin/echod": programs["udp_echo.upx"].read_bytes()}

    def remote_shells(image: Path) -> list[dict]:
        report = scan_report(image, tmp_path / image.stem)
        assert report["coverage"]["incomplete"] == []
        return [f for f in report["findings"] if f["category"] == "service.remote-shell"]

    (tmp_path / "plain").mkdir()
    (tmp_path / "packed").mkdir()
    before = remote_shells(_boot_image(tmp_path / "plain", "plain", daemons))
    after = remote_shells(_boot_image(tmp_path / "packed", "packed", daemons_packed))
    assert [(f["rule"], f["path"], f["evidence"]["excerpt"]) for f in before] == \
        [("FP-SVC-008", "/etc/init.d/rcS", "/usr/sbin/netd &")]
    assert [(f["rule"], f["path"], f["container"][1:], f["evidence"]) for f in after] == \
        [(f["rule"], f["path"], f["container"][1:], f["evidence"]) for f in before]
    details = after[0]["details"]
    assert details["binary_sha256"] == before[0]["details"]["binary_sha256"]    # what runs
    assert details["packed"] == "upx"
    assert details["packed_sha256"] == hashlib.sha256(packed.read_bytes()).hexdigest()
    assert {k: v for k, v in details.items() if not k.startswith("packed")} == before[0]["details"]


def _library(folder: Path, functions: int = 200) -> Path:
    """A shared library (-shared -fPIC) with `functions` exported functions: its dynamic symbols
    put the l_info UPX writes after them past the first 4 KiB."""
    source = folder / "libauth.c"
    body = "".join(f"int auth_step_{n}(int x) {{ return x * {n + 3} ^ table[x & 4095]; }}\n"
                   for n in range(functions))
    source.write_text("#include <string.h>\nstatic int table[4096] = {1, 2, 3};\n"
                      "int auth_check(const char *p) { return strcmp(p, \"Xm4st3r_k3y!2017\") == 0; }\n"
                      + body)
    out = folder / "libauth.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(out), str(source)], check=True,
                   capture_output=True)
    return out


def _sed_magic(src: Path, out: Path) -> Path:
    with out.open("wb") as handle:
        subprocess.run(["sed", f"s/UPX!/{MODIFIED_MAGIC}/g", str(src)], check=True, stdout=handle,
                       env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    return out


def _classify_file(path: Path, head: bytes | None = None) -> str:
    """classify as the index does: the head, and the file's end when it asks for it."""
    with path.open("rb") as handle:
        real = handle.read(4096)
        return classify(head if head is not None else real, str(path),
                        lambda offset, length: os.pread(handle.fileno(), length, offset), path.stat().st_size)


def test_a_packed_shared_library_is_unpacked_and_one_with_a_modified_magic_is_named(tmp_path: Path) -> None:
    """UPX keeps a shared library's first pages and puts its l_info after them, found from the
    file's end (as `upx -d` finds it): packed, it is unpacked (unblob's ELF handler finds no
    chunk in it: it was never searched); its magic sed-modified, it is PACKED and the scan
    incomplete, naming the magic."""
    need_tools("gcc", "upx", "sed", "mksquashfs")
    library = _library(tmp_path)
    packed = _upx(library, tmp_path / "libauth.upx.so")
    modified = _sed_magic(packed, tmp_path / "libauth.mod.so")
    head = packed.read_bytes()[:4096]
    assert upx_l_info(head) is None                # not after the program headers, not in the head
    assert classify(head, "/usr/lib/libauth.so") == ELF       # the head alone cannot tell
    assert _classify_file(library) == ELF
    assert _classify_file(packed) == PACKED and _classify_file(modified) == PACKED
    assert b"UPX!" not in modified.read_bytes()

    tree = tmp_path / "rootfs"
    (tree / "usr/lib").mkdir(parents=True)
    (tree / "usr/lib/libauth.so").write_bytes(packed.read_bytes())
    (tree / "usr/lib/libauthm.so").write_bytes(modified.read_bytes())
    (tree / "usr/lib/libplain.so").write_bytes(library.read_bytes())
    (tree / "etc").mkdir()
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    report = scan_report(pack(tree, "squashfs-xz", tmp_path / "fw.sqfs"), tmp_path, incomplete=True)
    layers = {c["path"] for c in report["unpack"]["containers"]}
    assert layers == {"squashfs@0x0", "squashfs@0x0/usr/lib/libauth.so/elf@0x0"}
    (entry,) = report["coverage"]["incomplete"]
    assert entry["path"] == "squashfs@0x0/usr/lib/libauthm.so/elf@0x0"
    assert "l_info magic at 0x" in entry["reason"] and "not b'UPX!'" in entry["reason"]


def test_the_shared_libraries_of_this_machine_stay_elf_with_or_without_section_headers() -> None:
    """Decoys: every shared library of /usr/lib is ELF; and with its section headers dropped (as
    OpenWrt's sstrip does, which sends it to the check of the file's end) it still is."""
    libraries = [p for p in sorted(Path("/usr/lib").rglob("*.so*"))
                 if p.is_file() and not p.is_symlink() and p.stat().st_size >= 64]
    checked = 0
    for path in libraries:
        with path.open("rb") as handle:
            head = handle.read(4096)
        if not head.startswith(b"\x7fELF") or head[16] != 3:
            continue
        checked += 1
        assert _classify_file(path) == ELF, path
        bits = head[4] == 2
        header = bytearray(head)
        # e_shoff, e_shnum, e_shstrndx zeroed
        shoff, shnum = (0x28, 0x3C) if bits else (0x20, 0x30)
        header[shoff:shoff + (8 if bits else 4)] = bytes(8 if bits else 4)
        header[shnum:shnum + 4] = bytes(4)
        assert _classify_file(path, bytes(header)) == ELF, path
    assert checked > 50, checked


def test_a_big_endian_mips_program_is_unpacked(programs: dict[str, Path], tmp_path: Path) -> None:
    """unblob reads UPX's trailer little-endian and leaves a big-endian program packed; the ELF
    entry's own `upx -d` unpacks it (a MIPS BE program packed by upx), and the ELF analyzers
    read it. Its decoy (a program comparing with the shadow hash,
    packed the same way) stays silent."""
    need_tools("mips-linux-gnu-gcc", "upx", "mksquashfs")
    tree = tmp_path / "rootfs"
    (tree / "usr/sbin").mkdir(parents=True)
    # dynamic (FP-HCRED-001 reads a MIPS program's libc imports), with 64 KiB of data beside
    # it: upx refuses a program too small to gain from packing
    room = tmp_path / "room.c"
    room.write_text("char upx_room[65536] = {1};\n")
    for program, name in (("login_master", "loginx"), ("login_hash", "checkpw")):
        plain = tmp_path / f"{program}.mips"
        subprocess.run(["mips-linux-gnu-gcc", "-O2", "-o", str(plain), str(SRC / f"{program}.c"), str(room)],
                       check=True, capture_output=True)
        packed = _upx(plain, tmp_path / f"{program}.mips.upx")
        assert packed.read_bytes()[5] == 2 and _classify_file(packed) == PACKED   # ELFDATA2MSB
        (tree / "usr/sbin" / name).write_bytes(packed.read_bytes())
    # its compressed program damaged: upx -d (run by firmproof, not unblob) refuses it
    damaged = bytearray((tree / "usr/sbin/loginx").read_bytes())
    found = upx_l_info(bytes(damaged[:4096]))
    assert found is not None
    body = found[0] + 48
    damaged[body:body + 64] = bytes(b ^ 0x5A for b in damaged[body:body + 64])
    (tree / "usr/sbin/loginy").write_bytes(damaged)
    (tree / "etc").mkdir()
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    report = scan_report(pack(tree, "squashfs-xz", tmp_path / "fw.sqfs"), tmp_path, incomplete=True)
    (entry,) = report["coverage"]["incomplete"]
    assert entry["path"] == "squashfs@0x0/usr/sbin/loginy/elf@0x0"
    assert re.fullmatch(r"a UPX-packed program \(l_info at 0x94\) that `upx -d` did not unpack \(loginy: "
                        r"[A-Za-z]*Exception: [^/]+\): its code was not examined", entry["reason"]), entry
    layers = {c["path"] for c in report["unpack"]["containers"]}
    assert {"squashfs@0x0/usr/sbin/loginx/elf@0x0", "squashfs@0x0/usr/sbin/checkpw/elf@0x0"} <= layers
    hits = [(f["container"][2:], f["path"]) for f in report["findings"] if f["rule"] == "FP-HCRED-001"]
    assert hits == [(["/usr/sbin/loginx", "elf@0x0"], "/loginx.elf")]


def test_a_packed_program_given_as_the_image_is_unpacked_whole(
        programs: dict[str, Path], static_build, tmp_path: Path) -> None:
    """A UPX-packed program that is the whole image, no file system around it, is one chunk, the
    whole file, unpacked with `upx -d` as one inside a file system is, not searched by unblob
    (whose ELF chunk, from a static big-endian MIPS program's headers, stopped short of the
    packed data: `upx -d` said NotPackedException and the scan failed, exit code 2). The program
    it gives back is analysed, the coverage names the packer, verify holds; the packed decoy
    gives nothing."""
    need_tools("upx")
    cases = [(_upx(static_build("login_master", "mips", "-O2"), tmp_path / "login.mips.upx"),
              "FP-HCRED-001", "literal"),
             (programs["udp_trigger.upx"], "FP-TRIG-001", "command")]
    for image, rule, key in cases:
        out = tmp_path / image.stem
        out.mkdir()
        report = scan_report(image, out)
        assert report["coverage"]["incomplete"] == []
        whole = {"offset": 0, "size": image.stat().st_size, "format": "elf", "status": "unpacked"}
        assert report["coverage"]["image"]["containers"] == [{**whole, "packer": "upx"}]
        assert [c["path"] for c in report["unpack"]["containers"]] == ["elf@0x0"]
        (finding,) = [f for f in report["findings"] if f["rule"] == rule]
        assert finding["container"] == [image.name, "elf@0x0"] and finding["path"] == f"/{image.stem}.elf"
        assert unpacked_evidence(finding, image, out) == finding["details"][key].encode()
        verify_holds(report, image, out)
    decoy = _upx(static_build("login_config", "mips", "-O2"), tmp_path / "config.mips.upx")
    report = scan_report(decoy, tmp_path)
    assert report["coverage"]["image"]["containers"][0]["packer"] == "upx"
    assert not [f for f in report["findings"] if f["rule"].startswith(("FP-HCRED", "FP-TRIG", "FP-SVC"))]
