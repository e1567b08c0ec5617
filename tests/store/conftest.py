"""The store's fixtures: real reports of real scans, a real PostgreSQL server, a real Dask cluster.

Each pytest-xdist worker starts its own PostgreSQL (a few seconds) and scans its own images: no
state is shared between workers but the read-only Debian binaries.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firmproof.device.components import Component
from firmproof.report.file import load
from tests.servers import DaskCluster, Postgres, ServerError, dask_cluster, postgres


@dataclass(frozen=True)
class Scanned:
    """A report as `firmproof.report.file.load` reads it, the components of the same scan, the
    typed report the scan returned and the image's inventory (what the store keeps of it)."""

    name: str
    report: dict[str, Any]
    components: tuple[Component, ...]
    typed: Any
    inventory: Any = None


# images the demo builder makes: all plants, a clean one, two plants in another file system
IMAGES = {
    "demo-router": {},
    "clean-router": {"plants": ()},
    "ext4-router": {"plants": ("telnetd-shell", "authorized-key"), "fmt": "ext4", "wrap_uimage": False},
}


def _scan(image: Path, out: Path) -> Scanned:
    from firmproof.batch import scan_with_inventory
    from firmproof.config import ScanConfig

    result, inventory = scan_with_inventory(ScanConfig(image=image))
    out.write_text(json.dumps(result.to_json()))
    return Scanned(image.stem, load(out), tuple(result.components), result, inventory)


@pytest.fixture(scope="session")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scanned]:
    """Real scans of small router images built with the real tools (firmproof.testing.demo)."""
    from firmproof.testing.demo import build_image

    folder = tmp_path_factory.mktemp("store-images")
    out = {}
    for name, options in IMAGES.items():
        image = build_image(folder / f"{name}.bin", **options)
        out[name] = _scan(image, folder / f"{name}.json")
    return out


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Postgres]:
    """This test session's own PostgreSQL server (fails, naming `make setup`, where missing)."""
    try:
        with postgres() as server:
            yield server
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)


_numbers = itertools.count()


@pytest.fixture
def pg_url(pg_server: Postgres) -> Iterator[str]:
    """A new empty database on the test server, dropped after the test."""
    name = f"store_{next(_numbers)}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def dask() -> Iterator[DaskCluster]:
    try:
        with dask_cluster(workers=2) as cluster:
            yield cluster
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
