"""Shared test helpers: run the CLI, build images with the real tools, find the corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

from firmproof.host.tools import aosp_dir, missing_message, use_tool_path, which

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "real"


def pytest_configure(config: pytest.Config) -> None:
    """Programs firmproof installs (.venv/bin: jefferson, ubireader_*) and /usr/sbin are found
    by tests that drive unblob directly, as by the CLI, whatever PATH pytest was started with."""
    use_tool_path()


def corpus_file(name: str) -> Path:
    """A file of the shared real corpus, or skip the test saying why."""
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"shared corpus file {name} is absent ({CORPUS})")
    return path


def need_tools(*tools: str) -> None:
    """Fail (not skip: `make setup` installs them) naming the Debian packages of missing tools."""
    missing = [t for t in tools if which(t) is None]
    if missing:
        pytest.fail(missing_message(missing))


def tool(name: str) -> str:
    """Full path of a program `make setup` installs, or fail naming its Debian package."""
    path = which(name)
    if path is None:
        pytest.fail(missing_message([name]))
    return path


def system_file(pattern: str) -> Path:
    """The host file `make setup` installs matching `pattern` (one of data/debian-packages.txt's
    checks, `*` standing for the multiarch folder), or fail naming its package."""
    found = sorted(Path("/").glob(pattern.lstrip("/")))
    if not found:
        pytest.fail(missing_message([pattern]))
    return found[0]


def need_file(path: Path) -> Path:
    """A file `make setup` installs (a jar, a header, a library), or fail naming its package."""
    if not path.is_file():
        pytest.fail(missing_message([str(path)]))
    return path


def aosp_tool(name: str) -> str:
    """AOSP's lpmake/lpunpack, which `make setup` builds into the venv's aosp/bin."""
    path = aosp_dir() / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"missing AOSP tool {name}: `make setup` builds it (tools/build-lptools.sh)")
    return str(path)


def firmproof(*args: str | Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, as a user runs it."""
    env_path = str(Path(sys.executable).parent)
    system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    proc = subprocess.run([sys.executable, "-m", "firmproof.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600,
                          env={"PATH": f"{env_path}:{system_path}",
                               "HOME": str(Path.home()), "LANG": "C.UTF-8"})
    if check:
        assert proc.returncode in (0, 1), proc.stderr
    return proc


def scan_report(image: Path, tmp_path: Path, *extra: str, incomplete: bool = False) -> dict:
    """The report of a scan that must exit 0, or 3 (incomplete) for an image damaged on purpose."""
    out = tmp_path / "report.json"
    proc = firmproof("scan", image, "-o", out, "-q", *extra)
    assert proc.returncode == (3 if incomplete else 0), proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def demo_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The demo image and its JSON report as the CLI writes it, built and scanned once for the
    tests that read them (the writers', the model's)."""
    from firmproof.testing.demo import build_image

    need_tools("mksquashfs", "mkimage", "openssl", "ssh-keygen")
    root = tmp_path_factory.mktemp("demo-scan")
    image = build_image(root / "demo.bin")
    return image, scan_report(image, root)


SHARED_ABSENT = ("shared corpus", "shared schemas", "OASIS SARIF 2.1.0 schema is absent")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Generator[None, None, None]:
    """Say how many tests skipped because ../shared (the real corpus, the SARIF schema) is
    absent, after the short summary: they are extra checks on real images, never the only test
    of a feature."""
    yield
    skipped = terminalreporter.stats.get("skipped", [])
    shared = sum(1 for report in skipped
                 if any(word in str(getattr(report, "longrepr", "")) for word in SHARED_ABSENT))
    if shared:
        terminalreporter.write_line(
            f"{shared} skipped because ../shared is absent ({CORPUS.parent.parent}): the real-firmware "
            "corpus checks; every feature is still tested on images built here")
    elif CORPUS.is_dir():
        terminalreporter.write_line(f"shared corpus present ({CORPUS}): real-firmware checks ran")
