"""The same image scanned twice gives the same report, apart from the timing fields, in every format."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import firmproof, need_tools

from firmproof.testing.demo import build_image


def test_same_image_same_report_in_every_format(tmp_path: Path):
    need_tools("mksquashfs", "mkimage", "openssl", "ssh-keygen")
    image = build_image(tmp_path / "demo.bin")
    outputs: dict[str, list[str]] = {"json": [], "sarif": [], "html": []}
    for run in (1, 2):
        for fmt in outputs:
            out = tmp_path / f"{run}.{fmt}"
            proc = firmproof("scan", image, "-q", "--format", fmt, "-o", out)
            assert proc.returncode == 0, proc.stderr
            outputs[fmt].append(out.read_text())
    first, second = (json.loads(text) for text in outputs["json"])
    assert set(first["stats"]) == {"seconds", "unpack_seconds"}
    first.pop("stats")
    second.pop("stats")
    assert first == second
    assert len(first["findings"]) >= 7
    # SARIF and HTML carry no timing at all: byte for byte the same
    assert outputs["sarif"][0] == outputs["sarif"][1]
    assert outputs["html"][0] == outputs["html"][1]
