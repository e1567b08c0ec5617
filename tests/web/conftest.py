"""`firmproof serve` as people and programs meet it: the real CLI serving a real uvicorn on
127.0.0.1 (a free port) over a store filled by real scans of images built at test time, asked
with httpx; every API response checked against the OpenAPI document the server publishes.

The store: three images (all plants, a clean one, an ext4 one with two plants), each scanned
once and its report added again as by three other rule sets (one a day), so that there are 12
scans, enough for pages of five. Nothing binds anything but loopback; each server is stopped after.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
import pytest

from tests.servers import free_port

if TYPE_CHECKING:
    from tests.web.vendor_store import VendorStore

START_SECONDS = 60
RULE_SETS = ("", "rules-b", "rules-c", "rules-d")     # "" is this firmproof's own rules version
IMAGES = {   # name: (build options, vendor, product, version, release date)
    "demo-router": ({}, "Acme", "R1", "1.0", date(2023, 1, 10)),
    "clean-router": ({"plants": ()}, "Acme", "R1", "1.1", date(2023, 6, 1)),
    "ext4-router": ({"plants": ("telnetd-shell", "authorized-key"), "fmt": "ext4", "wrap_uimage": False},
                    "Globex", "G2", "7.0", None),
}


@pytest.fixture(scope="session")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, Any]]:
    """The reports of IMAGES (scanned once) with what is said of each image."""
    from firmproof.config import ScanConfig
    from firmproof.scan import scan
    from firmproof.store import ImageInfo
    from firmproof.testing.demo import build_image

    folder = tmp_path_factory.mktemp("web-images")
    out = []
    for name, (options, vendor, product, version, released) in IMAGES.items():
        report = scan(ScanConfig(image=build_image(folder / f"{name}.bin", **options)))
        info = ImageInfo(vendor=vendor, product=product, version=version, release_date=released)
        out.append((report, info))
    return out


def fill(url: str, scanned: list[tuple[Any, Any]]) -> str:
    """The web tests' store at `url`: each report added again as by three other rule sets (one a
    day), in one order, so that every database gets the same rows and ids."""
    from firmproof.store import add_report, open_store

    store = open_store(url)
    try:
        for report, info in scanned:
            for day, rules in enumerate(RULE_SETS, start=1):      # rule set n scanned on 2024-01-0n
                add_report(store, report, info, rules=rules or None,
                           started=datetime(2024, 1, day, 12, tzinfo=UTC))
    finally:
        store.close()
    return url


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory, scanned: list[tuple[Any, Any]]) -> str:
    return fill(f"sqlite:///{tmp_path_factory.mktemp('web') / 'store.sqlite'}", scanned)


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    openapi: dict[str, Any] = field(default_factory=dict)

    def check(self, response: httpx.Response) -> httpx.Response:
        """`response` (of an /api path) is what the OpenAPI document says that path answers."""
        check_against_openapi(self.openapi, response)
        return response


# where servers started without --data-dir keep what they are given: never the user's data
# folder (its kept images would be searched, its stale uploads cleared); removed at exit
_DATA = tempfile.TemporaryDirectory(prefix="firmproof-web-data-")


def serve(*args: str) -> subprocess.Popen[str]:
    """`firmproof serve ARGS` in a child process that dies with the test run; a data folder of
    its own unless ARGS name one."""
    if "--data-dir" not in args:
        args = (*args, "--data-dir", tempfile.mkdtemp(dir=_DATA.name))
    return subprocess.Popen(["setpriv", "--pdeathsig=TERM", "--", sys.executable, "-m", "firmproof.cli",
                             "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"firmproof serve exited {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(f"{base}/api/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"firmproof serve did not answer on {base} within {START_SECONDS} s")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running(*args: str) -> Iterator[Server]:
    """`firmproof serve ARGS` on 127.0.0.1 (a free port) until the block ends, ready to answer,
    with the OpenAPI document it publishes."""
    port = free_port()
    process = serve(*args, "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield Server(base, process, httpx.get(f"{base}/api/openapi.json").json())
    finally:
        stop(process)


@pytest.fixture(scope="session")
def server(store_url: str) -> Iterator[Server]:
    """The store served on 127.0.0.1 without authentication (the loopback default)."""
    with running("--db", store_url) as server:
        yield server


@dataclass(frozen=True)
class Accounts:
    """The authentication file made with the real CLI: users and tokens of both roles."""

    path: Path
    passwords: dict[str, str]       # user -> password (alice: admin, bob: read)
    tokens: dict[str, str]          # role -> token


def firmproof_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmproof.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Accounts:
    path = tmp_path_factory.mktemp("auth") / "users.json"
    passwords = {"alice": "alice's long password", "bob": "bob's long password"}
    for name, role in (("alice", "admin"), ("bob", "read")):
        done = firmproof_cli("user", "add", name, "--role", role, "--password-stdin", "--auth", str(path),
                             stdin=passwords[name] + "\n")
        assert done.returncode == 0, done.stderr
    tokens = {}
    for role in ("read", "admin"):
        done = firmproof_cli("token", "add", f"{role}-bot", "--role", role, "--auth", str(path))
        assert done.returncode == 0, done.stderr
        tokens[role] = done.stdout.strip()
    return Accounts(path, passwords, tokens)


@pytest.fixture(scope="session")
def guarded(store_url: str, accounts: Accounts) -> Iterator[Server]:
    """The same store served on 127.0.0.1 with authentication configured (--auth)."""
    with running("--db", store_url, "--auth", str(accounts.path)) as server:
        yield server


@pytest.fixture
def writable(store_url: str, accounts: Accounts, tmp_path: Path) -> Iterator[Server]:
    """A copy of the store for one test that writes (triage), served like `guarded`."""
    copy = tmp_path / "store.sqlite"
    shutil.copyfile(store_url.removeprefix("sqlite:///"), copy)
    with running("--db", f"sqlite:///{copy}", "--auth", str(accounts.path)) as server:
        yield server


@pytest.fixture(scope="session")
def vendor_store(tmp_path_factory: pytest.TempPathFactory) -> VendorStore:
    """Two vendors' images sharing a key, one finding marked (tests/web/vendor_store.py)."""
    from tests.web.vendor_store import build

    return build(tmp_path_factory.mktemp("vendors"))


@pytest.fixture(scope="session")
def vendor_server(vendor_store: VendorStore) -> Iterator[Server]:
    """`vendor_store` served on 127.0.0.1 without authentication, for the vendor view."""
    with running("--db", vendor_store.url) as server:
        yield server


# ---------------------------------------------------------------- responses against the document

def _operation(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    parts = path.strip("/").split("/")
    for template, operations in openapi["paths"].items():
        pattern = template.strip("/").split("/")
        same = len(pattern) == len(parts) and all(
            p == q or (q.startswith("{") and q.endswith("}")) for p, q in zip(parts, pattern, strict=True))
        if same and method.lower() in operations:
            return dict(operations[method.lower()])
    raise AssertionError(f"{method} {path}: not in the OpenAPI document")


def check_against_openapi(openapi: dict[str, Any], response: httpx.Response) -> None:
    """The response's status is documented for its operation, and its JSON body validates
    against the schema documented for that status (JSON Schema 2020-12, as OpenAPI 3.1 has it)."""
    request = response.request
    operation = _operation(openapi, request.method, request.url.path)
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, \
        f"{request.method} {request.url.path}: status {response.status_code} is not documented"
    schema = documented.get("content", {}).get("application/json", {}).get("schema")
    assert schema is not None, f"{request.method} {request.url.path} {response.status_code}: no JSON schema"
    assert response.headers["content-type"].startswith("application/json")
    jsonschema.Draft202012Validator({**schema, "components": openapi["components"]},
                                    format_checker=jsonschema.FormatChecker()).validate(response.json())


UPLOAD_LIMIT = 2 * 1024 ** 2     # the `uploading` server's --upload-limit (the demo image is under 1 MiB)


@pytest.fixture
def uploading(accounts: Accounts, tmp_path: Path) -> Iterator[Server]:
    """An empty store served like `guarded` that takes uploads: kept in the test's
    `tmp_path / "data"` (--data-dir), stored in `tmp_path / "uploads.sqlite"`, at most UPLOAD_LIMIT
    bytes each."""
    with running("--db", f"sqlite:///{tmp_path / 'uploads.sqlite'}", "--auth", str(accounts.path),
                 "--data-dir", str(tmp_path / "data"), "--upload-limit", str(UPLOAD_LIMIT)) as server:
        yield server


ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "web"


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """Where a browser test keeps its screenshots (and PDFs), kept after the run as test
    artefacts: build/test-artifacts/web/TEST/, emptied when the test starts."""
    folder = ARTEFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
