"""One formatter per output format; the scan verb picks one by name."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firmproof.scan import ScanResult


def render(result: ScanResult, fmt: str, sbom_format: str = "cyclonedx") -> str:
    """The report of `result` as text in format `fmt` (json, sarif, html or sbom; the SBOM in
    `sbom_format`, cyclonedx or spdx)."""
    if fmt == "sarif":
        from firmproof.report.sarif import sarif

        return json.dumps(sarif(result.to_json()), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sbom" and sbom_format == "spdx":
        from firmproof.report.spdx import sbom as spdx_sbom

        return spdx_sbom(result)
    if fmt == "sbom":
        from firmproof.report.cyclonedx import sbom

        return sbom(result)
    if fmt == "html":
        from firmproof.report.html import scan_html

        return scan_html(result)
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
