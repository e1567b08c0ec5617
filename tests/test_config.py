"""Limits from a configuration file (TOML), the command line's flags over them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import firmproof, need_tools

from firmproof.config import ConfigError, GiB, Limits, load_settings, parse_size
from firmproof.testing.fixtures import pack


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tools("mksquashfs")
    tree = tmp_path_factory.mktemp("tree")
    (tree / "etc").mkdir()
    for i in range(12):
        (tree / "etc" / f"file{i}").write_text(f"{i}\n")
    return pack(tree, "squashfs-xz", tree.parent / "root.sqfs")


def test_sizes_read_as_people_write_them():
    assert parse_size("8G") == 8 * GiB and parse_size("512 MiB") == 512 << 20 and parse_size(4096) == 4096
    with pytest.raises(ValueError, match="'lots' is no size"):
        parse_size("lots")


def test_settings_file_sets_the_limits(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[limits]\nmax_bytes = "16G"\nmax_files = 50000\ntimeout = 600\n'
                      "[scan]\nmin_examined = 0.95\n")
    settings = load_settings(config)
    assert settings.limits == Limits(max_bytes=16 * GiB, max_files=50_000, max_seconds=600.0)
    assert settings.min_examined == 0.95


@pytest.mark.parametrize(("text", "message"), [
    ("[limits]\nmax_bytes = \"lots\"\n", "[limits] max_bytes: 'lots' is no size"),
    ("[limits]\nmax_filez = 3\n", "[limits] max_filez: unknown setting"),
    ("[scan]\nmin_examined = 2\n", "[scan] min_examined: 2 is no share between 0 and 1"),
    ("[limts]\n", "unknown section [limts]"),
    ("max_files = = 3\n", "not TOML"),
])
def test_a_wrong_setting_is_named(tmp_path: Path, text: str, message: str):
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(config)


def test_the_cli_reads_the_file_and_flags_win(image: Path, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("[limits]\nmax_files = 3\n")
    out = tmp_path / "r.json"
    proc = firmproof("scan", image, "-q", "-o", out, "--config", config)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(out.read_text())["coverage"]["limits"]["max_files"] == 3
    proc = firmproof("scan", image, "-q", "-o", out, "--config", config, "--max-files", "1000")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["coverage"]["limits"]["max_files"] == 1000
    config.write_text("[limits]\nmax_files = -1\n")
    proc = firmproof("scan", image, "-q", "-o", out, "--config", config)
    assert proc.returncode == 2 and proc.stderr.strip().endswith("[limits] max_files: -1 is no count")
