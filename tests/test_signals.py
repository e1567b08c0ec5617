"""A scan stopped by SIGTERM, SIGINT or SIGHUP: within 2 s, one line, exit 128+N, no child
left running, nothing left in the temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import need_tools

from firmproof.testing.demo import build_image
from firmproof.testing.fixtures import concat


@pytest.fixture(scope="module")
def busy_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six router images one after the other: a scan of some seconds, with extraction children
    and analysis workers at work when the signal comes."""
    need_tools("mksquashfs", "mkimage")
    folder = tmp_path_factory.mktemp("busy")
    router = build_image(folder / "router.bin", plants=("telnetd-shell",), decoys=())
    step = (router.stat().st_size + 0xFFFF) & ~0xFFFF
    return concat([(i * step, router) for i in range(6)], folder / "six.bin")


def _left_running(marker: str) -> list[str]:
    """Command lines of the processes that name `marker` (the scan's temporary folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_the_scan_cleanly(busy_image: Path, signum: int, tmp_path: Path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": str(tmp),
           "HOME": str(Path.home()), "LANG": "C.UTF-8"}
    # the marker in every child's command line: the image, copied under the temporary folder's name
    image = tmp_path / f"marker-{tmp_path.name}.bin"
    image.write_bytes(busy_image.read_bytes())
    proc = subprocess.Popen([sys.executable, "-m", "firmproof.cli", "scan", str(image), "-o",
                             str(tmp_path / "r.json")], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env=env, start_new_session=True)
    assert proc.stderr is not None
    layers = 0
    while layers < 4:           # in the middle of the work: unpacking, analysis workers started
        line = proc.stderr.readline()
        assert line, "the scan ended before it could be stopped"
        layers += line.startswith("unpacking ")
    proc.send_signal(signum)
    sent = time.monotonic()
    rest = proc.stderr.read()
    code = proc.wait(timeout=30)
    elapsed = time.monotonic() - sent
    assert code == 128 + signum, rest
    assert elapsed < 2.0, f"{elapsed:.1f}s to stop"
    assert "Traceback" not in rest
    said = [line for line in rest.splitlines() if not line.startswith("unpacking ")]
    assert len(said) == 1 and said[0].startswith("firmproof: "), said
    time.sleep(0.5)             # the kernel's PDEATHSIG reaches orphans at once; leave it a moment
    assert _left_running(image.name) == []
    assert list(tmp.iterdir()) == []
    assert not (tmp_path / "r.json").exists()
