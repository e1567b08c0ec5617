"""FP-WEB-003 on the router architectures: the web server of tests/rules/cases_web.py (whose
x86-64 build and CGI cases are in the rule table) cross-compiled at test time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firmproof.analyzers.web import WebEndpoints
from firmproof.fs.rootfs import RootFS
from firmproof.model import Finding
from tests.conftest import tool
from tests.rules.cases_web import SERVER

from .conftest import evidence_bytes


def _run(files: dict[str, str | bytes]) -> list[Finding]:
    fs = RootFS.from_files(files, modes={p: 0o755 for p in files})
    return list(WebEndpoints().run(fs))


@pytest.fixture(scope="module", params=["mipsel-linux-gnu-gcc", "mips-linux-gnu-gcc",
                                        "arm-linux-gnueabi-gcc", "aarch64-linux-gnu-gcc"])
def web_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The web server built for MIPS LE/BE, ARM and AArch64, -O2 and stripped."""
    compiler = tool(request.param)
    tmp: Path = tmp_path_factory.mktemp("websrv")
    (tmp / "httpd.c").write_text(SERVER)
    proc = subprocess.run([compiler, "-O2", "-s", "-o", str(tmp / "httpd"), str(tmp / "httpd.c")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return (tmp / "httpd").read_bytes()


def test_hidden_handler_of_a_web_server_is_found(web_server: bytes) -> None:
    files: dict[str, str | bytes] = {
        "/usr/sbin/httpd": web_server,
        "/www/wan.html": "<form action='/goform/formSetWan' method=post></form>"}
    (found,) = _run(files)
    assert found.rule.id == "FP-WEB-003"
    assert evidence_bytes(files, found) == b"/goform/formDebugTelnet"
    assert found.details["handler"] == "/goform/formDebugTelnet"


def test_web_server_whose_handlers_are_all_linked_is_not_reported(web_server: bytes) -> None:
    files: dict[str, str | bytes] = {
        "/usr/sbin/httpd": web_server,
        "/www/wan.html": "<form action='/goform/formSetWan' method=post></form>",
        "/www/js/debug.js": "function telnet() { post('/goform/formDebugTelnet'); }"}
    assert _run(files) == []
