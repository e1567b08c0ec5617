"""The session fixtures the rule cases share with the tests they came from, and the offline
vulnerability database of tests/data/vulndb for FP-VULN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmproof.device.components import vulndb
from tests.analyzers.conftest import elf_programs  # noqa: F401  (fixtures shared with the cases)
from tests.android.conftest import build_apk, signing_key  # noqa: F401

from .case import Kit

VULNDB = Path(__file__).resolve().parents[1] / "data" / "vulndb"


@pytest.fixture(scope="session")
def kit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rule-cases")


@pytest.fixture
def kit(request: pytest.FixtureRequest, kit_dir: Path) -> Kit:
    return Kit(request, kit_dir)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The real NVD and OSV records of tests/data/vulndb, imported for this module's cases."""
    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    vulndb.import_files(sorted(VULNDB.glob("*/*.json")), path)
    vulndb.configure(path)
    yield path
    vulndb.configure(None)
