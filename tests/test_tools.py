"""External programs are found however firmproof is started, and named by Debian package when not.

`.venv/bin/firmproof` is run as a user runs it without activating the venv, under `env -i` with
PATH=/usr/bin:/bin: jefferson, ubireader_* (pip scripts in .venv/bin) and debugfs (/usr/sbin)
must still be found, for every format the test suite builds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmproof.host import tools
from firmproof.testing.fixtures import FORMATS, pack
from tests.conftest import tool

SHADOW = "root::0:0:99999:7:::\n"      # an empty root password: FP-CRED finds it wherever it is
# streams and images beyond fixtures.FORMATS, each made by its real tool from a tar or an ext4
STREAMS = {"tar-lz4": ["lz4", "-q", "-c"], "tar-lzop": ["lzop", "-c"], "tar-zstd": ["zstd", "-q", "-c"],
           "tar-xz": ["xz", "-c"], "tar-bz2": ["bzip2", "-c"]}
IMAGES = {"android-sparse": "img2simg", "erofs": "mkfs.erofs"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree") / "root"
    (root / "etc" / "init.d").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc" / "shadow").write_text(SHADOW)
    (root / "etc" / "shadow").chmod(0o600)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "init.d" / "rcS").write_text("#!/bin/sh\nmount -a\n")
    (root / "bin" / "sh").symlink_to("busybox")
    (root / "bin" / "busybox").write_bytes(b"\x7fELF" + bytes(60))
    return root


def _image(kind: str, tree: Path, out: Path) -> Path:
    if kind in FORMATS:
        return pack(tree, kind, out)
    if kind in STREAMS:
        tar = pack(tree, "tar", out.with_suffix(".tar"))
        out.write_bytes(subprocess.run([tool(STREAMS[kind][0]), *STREAMS[kind][1:], str(tar)],
                                       capture_output=True, check=True).stdout)
        return out
    if kind == "android-sparse":
        ext4 = pack(tree, "ext4", out.with_suffix(".ext4"))
        subprocess.run([tool("img2simg"), str(ext4), str(out)], check=True, capture_output=True)
        return out
    subprocess.run([tool("mkfs.erofs"), str(out), str(tree)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("kind", [*FORMATS, *STREAMS, *IMAGES])
def test_unpacks_with_a_minimal_path(kind: str, tree: Path, tmp_path: Path) -> None:
    image = _image(kind, tree, tmp_path / f"image.{kind}")
    cli = Path(sys.executable).parent / "firmproof"
    out = tmp_path / "report.json"
    proc = subprocess.run(["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", f"HOME={tmp_path}", "LANG=C.UTF-8",
                           str(cli), "scan", str(image), "-o", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert not [e for e in report["unpack"]["errors"] if "missing extractor" in str(e)], report["unpack"]
    shadow = [f for f in report["findings"] if f["path"] == "/etc/shadow"]
    assert shadow, (kind, report["unpack"], [f["path"] for f in report["findings"]])


def test_search_path_puts_the_interpreters_scripts_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    parts = tools.search_path().split(":")
    assert parts[0] == str(tools.scripts_dir())
    assert parts.index("/usr/bin") < parts.index("/usr/sbin")
    assert len(parts) == len(set(parts))
    assert tools.which("jefferson") == str(tools.scripts_dir() / "jefferson")
    assert tools.which("debugfs") in ("/usr/sbin/debugfs", "/sbin/debugfs")


def test_missing_tools_are_named_by_their_debian_package() -> None:
    assert tools.missing_message(["mkfs.ubifs"]) == (
        "mkfs.ubifs is missing: install the Debian package mtd-utils (`make setup` does)")
    two = tools.missing_message(["mksquashfs", "/usr/share/java/smali.jar"])
    assert two.startswith("mksquashfs, /usr/share/java/smali.jar are missing: install the Debian packages "
                          "libsmali-java squashfs-tools")
    assert "not a package" in tools.missing_message(["no-such-tool"])


def test_packages_per_release() -> None:
    by_check = {r.check: r for r in tools.requirements()}
    assert by_check["/usr/lib/*/libmagic.so.1"].package("bookworm") == "libmagic1"
    assert by_check["/usr/lib/*/libmagic.so.1"].package("trixie") == "libmagic1t64"
    assert by_check["mkfs.cramfs"].package("bookworm") == "util-linux"
    assert by_check["mkfs.cramfs"].package("trixie") == "util-linux-extra"
    assert by_check["7z"].package("forky") == "7zip"      # later releases take the default name


def test_doctor_checks_the_tools_the_format_table_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    """doctor reads firmproof/unpack/formats.py: each program with the handlers of the formats
    that run it; what a reader of firmproof's own replaces is shown as replaced when absent;
    streams decoded in process need no program."""
    from firmproof.host import doctor
    from firmproof.unpack.formats import FORMATS

    declared = {dep for fmt in FORMATS for dep in fmt.tools}
    checks = {c.name: c for c in doctor._extractors({})}
    assert declared <= set(checks)
    assert checks["jefferson"].formats == ["jffs2_new", "jffs2_old"]
    assert "zip" in checks["7z"].formats and "gzip" not in checks["7z"].formats
    assert "zstd" not in checks
    monkeypatch.setattr(doctor, "which", lambda name: None)
    sasquatch = {c.name: c for c in doctor._extractors({})}["sasquatch"]
    assert sasquatch.found == "firmproof's SquashFS reader" and sasquatch.ok
    assert sasquatch.purpose == "replaced by firmproof's SquashFS reader"
    assert "squashfs_v4_le" in sasquatch.formats
