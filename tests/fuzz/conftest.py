"""hypothesis profiles of the fuzz harnesses, and their seeds (built once per session).

Profiles:
- "ci" (the default): a few hundred examples per harness, derandomized (the same examples on
  every run, so CI is repeatable), no example database written; the whole of tests/fuzz takes
  about two minutes on one core (seeds included). The seeds are the same from run to run but
  for what the tools draw at random (salts and IVs of encrypted keys and stores, OpenSSH check
  integers, ctimes in ext images, the UBIFS UUID): see seeds.py.
- "fuzz" (FIRMPROOF_FUZZ=long, `make fuzz`): harness.LONG_FACTOR (FIRMPROOF_FUZZ_FACTOR,
  default 100) times more examples, fresh ones each run, and failures kept in build/hypothesis
  to be replayed first next time.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from . import seeds
from .harness import DEADLINE_MS, LONG, Seeds

REPO = Path(__file__).resolve().parents[2]

_COMMON: dict[str, Any] = {
    "deadline": DEADLINE_MS,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                              HealthCheck.large_base_example, HealthCheck.filter_too_much],
}
settings.register_profile("ci", derandomize=True, database=None, max_examples=50, **_COMMON)
settings.register_profile("fuzz", derandomize=False, max_examples=5000,
                          database=DirectoryBasedExampleDatabase(str(REPO / "build" / "hypothesis")),
                          **_COMMON)
settings.load_profile("fuzz" if LONG else "ci")


def _sendable(text: str) -> str:
    """`text` with lone surrogates written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """The reports of these harnesses carry what hostile names became: firmproof decodes file
    names with os.fsdecode (surrogate escapes) and logs them (`cramfs: folder ot\\udced…`),
    and pytest keeps the captured log in the report. pytest-xdist sends reports as UTF-8,
    where a lone surrogate stops the whole run (INTERNALERROR, UnicodeEncodeError in execnet):
    the captured sections and a failure's text are sent with the surrogates escaped."""
    outcome = yield
    report = outcome.get_result()
    report.sections = [(title, _sendable(text)) for title, text in report.sections]
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        shown = str(report.longrepr)
        if _sendable(shown) != shown:
            report.longrepr = _sendable(shown)


def _built(build: Callable[..., dict[str, bytes]], *args: Any) -> Seeds:
    """The seeds `build` makes; a failure (a missing tool, a tool that failed) fails the
    harnesses that need them with one plain line, no traceback: what a pytest-xdist worker
    sends back is text whatever the exception held."""
    try:
        return Seeds(build(*args))
    except Exception as exc:  # the seeds of some harnesses, not the whole run
        what = str(exc) if isinstance(exc, seeds.MissingTool) else f"{type(exc).__name__}: {exc}"
        line = " ".join(f"{build.__name__} seeds: {what}".split())[:1000]
        pytest.fail(line.encode("ascii", "backslashreplace").decode("ascii"), pytrace=False)


@pytest.fixture(scope="session")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-seeds")


@pytest.fixture(scope="session")
def squashfs_seeds(seed_dir: Path) -> Seeds:
    """mksquashfs images of the tiny tree, cut at bytes_used (the rest is padding)."""
    import struct

    built = _built(seeds.squashfs, seed_dir)
    return Seeds({name: data[:struct.unpack_from("<Q", data, 40)[0]] for name, data in built.items()})


@pytest.fixture(scope="session")
def corpus_squashfs_seeds() -> Seeds:
    return _built(seeds.corpus_squashfs)


@pytest.fixture(scope="session")
def uimage_seeds(seed_dir: Path) -> Seeds:
    return _built(seeds.uimages, seed_dir)


@pytest.fixture(scope="session")
def boot_seeds(seed_dir: Path) -> Seeds:
    return _built(seeds.boot_images, seed_dir)


@pytest.fixture(scope="session")
def sparse_seeds(seed_dir: Path) -> Seeds:
    return _built(seeds.sparse_images, seed_dir)


@pytest.fixture(scope="session")
def super_seeds(seed_dir: Path) -> Seeds:
    return _built(seeds.super_images, seed_dir)


@pytest.fixture(scope="session")
def payload_seeds() -> Seeds:
    return _built(seeds.payloads)


@pytest.fixture(scope="session")
def meta_seeds(seed_dir: Path) -> Seeds:
    return _built(seeds.meta_images, seed_dir)


@pytest.fixture(scope="session")
def key_seeds(seed_dir: Path) -> Seeds:
    return _built(seeds.keys, seed_dir)


@pytest.fixture(scope="session")
def store_seeds(seed_dir: Path, key_seeds: dict[str, bytes]) -> Seeds:
    return _built(seeds.keystores, seed_dir, key_seeds)


@pytest.fixture(scope="session")
def otacerts_seeds(seed_dir: Path, key_seeds: dict[str, bytes]) -> Seeds:
    return _built(seeds.otacerts, seed_dir, key_seeds)


@pytest.fixture(scope="session")
def app_seeds(seed_dir: Path) -> Seeds:
    return _built(seeds.apps, seed_dir)


@pytest.fixture(scope="session")
def report_seeds(seed_dir: Path, key_seeds: dict[str, bytes]) -> Seeds:
    return _built(seeds.reports, seed_dir, key_seeds)
