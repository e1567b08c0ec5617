"""A product's findings per release as one SVG: a stacked bar per release, one colour per
severity, drawn on the server (no script), so that it shows offline and prints."""

from __future__ import annotations

from html import escape
from typing import Any

from firmproof.store.schema import SEVERITIES

COLORS = {"critical": "#8b1a1a", "high": "#d0481b", "medium": "#b98900", "low": "#4a6fa5", "info": "#77808c"}
BAR, GAP, HEIGHT, LEFT, BOTTOM, TOP = 36, 18, 180, 36, 46, 16     # TOP: room for the tallest bar's count
LEGEND = 80                                                          # the width of a legend entry


def findings_per_release(releases: list[dict[str, Any]]) -> str:
    """The chart of a timeline's rows (`firmproof.store.timeline.timeline`): a release that could
    not be scanned is an empty slot marked 'error'."""
    top = max((r["findings"] or 0 for r in releases), default=0) or 1
    axis = LEFT + len(releases) * (BAR + GAP) + GAP
    width = max(axis, LEFT + len(SEVERITIES) * LEGEND)              # the whole legend shows
    # drawn in a frame of HEIGHT + BOTTOM + 10 with TOP more above it for the tallest count
    tall = TOP + HEIGHT + BOTTOM + 10
    parts = [f'<svg class="timeline" role="img" aria-label="findings per release" width="{width}" '
             f'height="{tall}" viewBox="0 {-TOP} {width} {tall}">',
             f'<line x1="{LEFT}" y1="{HEIGHT + 5}" x2="{axis}" y2="{HEIGHT + 5}" stroke="#999"/>',
             f'<text x="{LEFT - 6}" y="15" font-size="11" text-anchor="end">{top}</text>',
             f'<text x="{LEFT - 6}" y="{HEIGHT + 5}" font-size="11" text-anchor="end">0</text>']
    for i, release in enumerate(releases):
        x = LEFT + GAP + i * (BAR + GAP)
        label = escape(release["version"] or release["image"])
        parts.append(f'<text x="{x + BAR / 2}" y="{HEIGHT + 22}" font-size="11" text-anchor="middle">'
                     f'{label}</text>')
        if release["findings"] is None:
            parts.append(f'<text x="{x + BAR / 2}" y="{HEIGHT - 4}" font-size="11" fill="#a31a1a" '
                         'text-anchor="middle">error</text>')
            continue
        y: float = HEIGHT + 5
        for severity in reversed(SEVERITIES):          # the most severe on top
            n = release[severity] or 0
            if not n:
                continue
            h = HEIGHT * n / top
            y -= h
            parts.append(f'<rect class="bar {severity}" x="{x}" y="{y:.1f}" width="{BAR}" height="{h:.1f}" '
                         f'fill="{COLORS[severity]}"><title>{label}: {n} {severity}</title></rect>')
        parts.append(f'<text x="{x + BAR / 2}" y="{y - 4:.1f}" font-size="11" text-anchor="middle">'
                     f'{release["findings"]}</text>')
    legend_y = HEIGHT + 40
    for j, severity in enumerate(SEVERITIES):
        lx = LEFT + j * LEGEND
        parts.append(f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{COLORS[severity]}"/>'
                     f'<text x="{lx + 14}" y="{legend_y}" font-size="11">{severity}</text>')
    parts.append("</svg>")
    return "".join(parts)
