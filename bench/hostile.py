"""Hostile-input run: images an adversary could build, each scanned alone with a deadline.

Each case is built here with real tools (mksquashfs, tar, cpio, zip via Python's zipfile,
gzip, xz, the shared corpus's real images cut short) or is a special file (a fifo, /dev/zero).
Each scan runs with its own TMPDIR and work folder and a 180 s deadline; a case passes when:
- it ends in time, with a report (exit 0, 1 or 3) or one clear line (exit 2), no traceback;
- no process of it is left behind, nothing is left in its TMPDIR;
- its work folder stayed within the byte budget (sampled while it runs);
- nothing was written outside the work folder (a canary folder beside it stays unchanged);
- an input that was not fully examined says so (exit 3, or a clear line).

    python bench/hostile.py [--only NAME] [--deadline 180]

Prints a Markdown table for the issue note. Cases are families of attacks, not a list to tune
against: change the sizes and counts freely.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus" / "real"
CLI = Path(sys.executable).parent / "firmproof"
BUDGET = 64 << 20          # --max-bytes given to every scan


@dataclass
class Case:
    name: str
    build: Callable[[Path], Path]
    incomplete: bool = False        # the input cannot be fully examined: exit 3 or 2 expected
    signal_after: float | None = None


def _root(tree: Path) -> Path:
    (tree / "etc" / "init.d").mkdir(parents=True, exist_ok=True)
    (tree / "etc" / "inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    rcs = tree / "etc" / "init.d" / "rcS"
    rcs.write_text("#!/bin/sh\n/usr/sbin/telnetd -l /bin/sh &\n")
    rcs.chmod(0o755)
    return tree


def _sqfs(tree: Path, out: Path) -> Path:
    subprocess.run(["mksquashfs", str(tree), str(out), "-quiet", "-noappend", "-no-progress"],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def many_files(folder: Path) -> Path:
    tree = _root(folder / "tree")
    bulk = tree / "bulk"
    bulk.mkdir()
    for i in range(120_000):
        sub = bulk / f"{i % 200:03d}"
        if i < 200:
            sub.mkdir()
        (sub / f"f{i}").write_bytes(b"x" * (i % 7))
    return _sqfs(tree, folder / "many.sqfs")


def sparse_in_squashfs(folder: Path) -> Path:
    tree = _root(folder / "tree")
    with (tree / "huge").open("wb") as handle:
        handle.truncate(100 << 30)
    return _sqfs(tree, folder / "sparse.sqfs")


def sparse_tar(folder: Path) -> Path:
    tree = _root(folder / "tree")
    with (tree / "huge").open("wb") as handle:
        handle.truncate(100 << 30)
    out = folder / "sparse.tar"
    subprocess.run(["tar", "--sparse", "-C", str(tree), "-cf", str(out), "."], check=True)
    return out


def nested_zips(folder: Path) -> Path:
    data = b"\0" * (16 << 20)
    name = "zeros.bin"
    for level in range(12):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for copy in range(4 if level else 1):
                archive.writestr(f"{copy}-{name}", data)
        data, name = buffer.getvalue(), f"level{level}.zip"
    out = folder / "nested.zip"
    out.write_bytes(data)
    return out


def _distinct(levels: int, fan: int, tag: str, pack: Callable[[list[tuple[str, bytes]]], bytes]) -> bytes:
    """An archive of `fan` archives of `fan` archives … `levels` deep, each one distinct (no
    copy for the identical-copy rule to collapse): fan ** levels little leaves."""
    members = []
    for i in range(fan):
        name = f"{tag}{i}"
        members.append((f"{name}.bin", _distinct(levels - 1, fan, name, pack)) if levels > 1
                       else (f"{name}.txt", "".join(f"{name} {n}\n" for n in range(80)).encode()))
    return pack(members)


def _zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def distinct_zips(folder: Path) -> Path:
    out = folder / "distinct.zip"
    out.write_bytes(_distinct(8, 4, "n", _zip_of))       # 21,845 zips, 65,536 leaves
    return out


def distinct_tars(folder: Path) -> Path:
    out = folder / "distinct.tar"
    out.write_bytes(_distinct(6, 4, "n", _tar_of))       # 1,365 tars, each a child extraction
    return out


def overlapping_zip(folder: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from test_bad_input import _overlapping_zip  # the builder the suite uses

    return _overlapping_zip(folder / "overlap.zip", 20_000, b"\0" * (32 << 20))


def gzip_bomb(folder: Path) -> Path:
    out = folder / "bomb.gz"
    with gzip.open(out, "wb", compresslevel=9) as handle:
        chunk = b"\0" * (1 << 20)
        for _ in range(4096):           # 4 GiB of zeros
            handle.write(chunk)
    return out


def deep_gzip(folder: Path) -> Path:
    data = b"root::0:0:root:/root:/bin/sh\n"
    for _ in range(60):
        data = gzip.compress(data)
    out = folder / "deep.gz"
    out.write_bytes(data)
    return out


def traversal_tar(folder: Path) -> Path:
    out = folder / "evil.tar"
    with tarfile.open(out, "w") as archive:
        for name, kind, target in (("../../escaped", tarfile.REGTYPE, ""),
                                   ("/abs_escaped", tarfile.REGTYPE, ""),
                                   ("link", tarfile.SYMTYPE, "/etc"),
                                   ("link/passwd", tarfile.REGTYPE, ""),
                                   ("hard", tarfile.LNKTYPE, "/etc/hostname")):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            payload = b"pwned\n" if kind == tarfile.REGTYPE else b""
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return out


def symlink_escape_cpio(folder: Path) -> Path:
    tree = folder / "tree"
    tree.mkdir()
    (tree / "etc").symlink_to("/etc")
    (tree / "shadow").symlink_to("../../../../../etc/shadow")
    names = subprocess.run(["find", "."], cwd=tree, capture_output=True, check=True).stdout
    out = folder / "escape.cpio"
    with out.open("wb") as handle:
        subprocess.run(["cpio", "-o", "-H", "newc"], cwd=tree, input=names, stdout=handle,
                       stderr=subprocess.DEVNULL, check=True)
    return out


def long_line(folder: Path) -> Path:
    tree = _root(folder / "tree")
    (tree / "etc" / "init.d" / "rcS").write_text(
        "#!/bin/sh\necho " + "w " * 3_000_000 + "; /usr/sbin/telnetd -l /bin/sh &\n")
    return _sqfs(tree, folder / "longline.sqfs")


def _cut(name: str, share: float) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        source = CORPUS / name
        if not source.is_file():
            raise FileNotFoundError(f"{source} (shared corpus) absent")
        data = source.read_bytes()
        out = folder / f"cut{int(share * 100)}.bin"
        out.write_bytes(data[:int(len(data) * share)])
        return out
    return build


def fifo(folder: Path) -> Path:
    out = folder / "fifo"
    os.mkfifo(out)
    return out


def dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")


def busy(folder: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from firmproof.testing.demo import build_image
    from firmproof.testing.fixtures import concat

    router = build_image(folder / "router.bin", plants=("telnetd-shell",), decoys=())
    step = (router.stat().st_size + 0xFFFF) & ~0xFFFF
    return concat([(i * step, router) for i in range(6)], folder / "six.bin")


TPLINK = "tplink_tl-wr841n-v14-eu_stock_2023.bin"
CASES = [
    Case("120k small files (squashfs)", many_files),
    Case("100 GiB sparse file in squashfs", sparse_in_squashfs, incomplete=True),
    Case("100 GiB sparse tar member", sparse_tar, incomplete=True),
    Case("12 levels of nested zips of zeros", nested_zips, incomplete=True),
    Case("8 levels of distinct nested zips (21,845)", distinct_zips, incomplete=True),
    Case("6 levels of distinct nested tars (1,365)", distinct_tars, incomplete=True),
    Case("20,000 overlapping zip entries", overlapping_zip, incomplete=True),
    Case("4 GiB gzip bomb", gzip_bomb, incomplete=True),
    Case("60 nested gzip layers", deep_gzip, incomplete=True),
    Case("tar: traversal, absolute, link escapes", traversal_tar),
    Case("cpio: symlinks out of the tree", symlink_escape_cpio),
    Case("3-million-word rcS line", long_line),
    Case("real image cut at 50 %", _cut(TPLINK, 0.5), incomplete=True),
    Case("real image cut at 90 %", _cut(TPLINK, 0.9), incomplete=True),
    Case("a fifo", fifo, incomplete=True),
    Case("/dev/zero", dev_zero, incomplete=True),
    Case("SIGTERM during a scan", busy, signal_after=0.8),
    Case("SIGINT during a scan", busy, signal_after=0.8),
]


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _left(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                continue
    return found


def run_case(case: Case, deadline: float) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="fp-hostile-"))
    try:
        return _run(case, folder, deadline)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(case: Case, folder: Path, deadline: float) -> dict[str, object]:
    row: dict[str, object] = {"case": case.name}
    try:
        image = case.build(folder)
    except FileNotFoundError as exc:
        return {**row, "verdict": f"skipped: {exc}"}
    tmp, work, canary = folder / "tmp", folder / "work", folder / "canary"
    for path in (tmp, work, canary):
        path.mkdir()
    (canary / "keep").write_text("canary\n")
    env = dict(os.environ, TMPDIR=str(tmp))
    sig = signal.SIGTERM if "SIGTERM" in case.name else signal.SIGINT
    cmd = [str(CLI), "scan", str(image), "-q", "-o", str(folder / "report.json"),
           "--workdir", str(work), "--max-bytes", str(BUDGET)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace")
    peak = 0
    signalled = False
    while proc.poll() is None and time.monotonic() - started < deadline:
        peak = max(peak, _tree_bytes(work))
        if case.signal_after and not signalled and time.monotonic() - started > case.signal_after:
            proc.send_signal(sig)
            signalled = True
        time.sleep(0.2)
    timed_out = proc.poll() is None
    if timed_out:
        proc.kill()
    _out, err = proc.communicate()
    seconds = time.monotonic() - started
    time.sleep(0.5)
    left = _left(str(work))
    problems = []
    code = proc.returncode
    if timed_out:
        problems.append(f"not done in {deadline:.0f} s")
    if "Traceback" in err:
        problems.append("traceback")
    if left:
        problems.append(f"{len(left)} processes left")
    if any(tmp.iterdir()):
        problems.append("TMPDIR not empty")
    if peak > BUDGET * 1.1 + (8 << 20):
        problems.append(f"work folder peaked at {peak >> 20} MiB")
    if [p.name for p in canary.iterdir()] != ["keep"] or (canary / "keep").read_text() != "canary\n":
        problems.append("canary changed")
    expected = {128 + sig} if case.signal_after else ({2, 3} if case.incomplete else {0, 1, 3})
    if code not in expected and not timed_out:
        problems.append(f"exit {code} (expected {sorted(expected)})")
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return {**row, "exit": code, "seconds": round(seconds, 1), "peak_mib": round(peak / (1 << 20), 1),
            "line": last[:140], "verdict": "ok" if not problems else "; ".join(problems)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only")
    parser.add_argument("--deadline", type=float, default=180.0)
    args = parser.parse_args()
    rows = [run_case(c, args.deadline) for c in CASES if args.only in (None, c.name)]
    print("| case | exit | seconds | work folder peak (MiB) | verdict | last line |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r.get('exit', '')} | {r.get('seconds', '')} | {r.get('peak_mib', '')} "
              f"| {r['verdict']} | {str(r.get('line', '')).replace('|', '/')} |")
    return 0 if all(r["verdict"] == "ok" or str(r["verdict"]).startswith("skipped") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
