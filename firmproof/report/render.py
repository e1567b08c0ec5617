"""One formatter per output format; the scan verb picks one by name."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firmproof.report import Report


def render(report: Report, fmt: str, sbom_format: str = "cyclonedx") -> str:
    """`report` as text in format `fmt` (json, sarif, html or sbom; the SBOM in
    `sbom_format`, cyclonedx or spdx)."""
    if fmt == "sarif":
        from firmproof.report.sarif import sarif

        return json.dumps(sarif(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "sbom" and sbom_format == "spdx":
        from firmproof.report.spdx import sbom as spdx_sbom

        return spdx_sbom(report)
    if fmt == "sbom":
        from firmproof.report.cyclonedx import sbom

        return sbom(report)
    if fmt == "html":
        from firmproof.report.html import report_html

        return report_html(report)
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
