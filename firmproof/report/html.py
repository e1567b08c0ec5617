"""One self-contained HTML file for a scan (or a diff): opens offline, loads nothing from elsewhere.

A summary with inline SVG charts (findings by severity, by category), the container tree,
and each finding with its explanation, evidence excerpt, a hex view of the bytes around the
offset and how to confirm it by hand; a little inline script filters by severity, category
and text. References are printed as text, not links, so that the page makes no request.

The hex view shows the bytes each finding's evidence kept around itself when it was made
(`Evidence.window`): they are in the scan's model only, never in the JSON report, so a report
read back from JSON renders without hex views.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from typing import TYPE_CHECKING, Any

from firmproof.model import WINDOW_EVIDENCE, Evidence, Finding, Severity
from firmproof.report.coverage import headline, size_text

if TYPE_CHECKING:
    from firmproof.evidence.diff import Diff
    from firmproof.report import Container, Report

COLORS = {"critical": "#b3001b", "high": "#e4572e", "medium": "#f3a712", "low": "#3c91e6", "info": "#8a8f98"}

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1f24;background:#f6f7f9}
header,main{max-width:1100px;margin:auto;padding:0 16px}
header{padding-top:16px}h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:24px 0 8px}
code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#fff;border:1px solid #dde;padding:8px;
overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.meta td{padding:1px 12px 1px 0}.charts{display:flex;gap:24px;flex-wrap:wrap}
.chart{background:#fff;border:1px solid #dde;padding:8px}
.finding{background:#fff;border:1px solid #dde;border-left:6px solid #888;margin:10px 0;padding:8px 12px}
.finding h3{font-size:15px;margin:4px 0}.sev{color:#fff;border-radius:3px;padding:0 6px;font-size:12px}
.finding[data-severity=critical]{border-left-color:#b3001b}.finding[data-severity=high]{border-left-color:#e4572e}
.finding[data-severity=medium]{border-left-color:#f3a712}.finding[data-severity=low]{border-left-color:#3c91e6}
mark{background:#ffe066}
.filters{position:sticky;top:0;background:#f6f7f9;padding:8px 0;border-bottom:1px solid #dde}
.filters label{margin-right:10px}table.grid{border-collapse:collapse;background:#fff}
table.grid td,table.grid th{border:1px solid #dde;padding:3px 8px;text-align:left;vertical-align:top}
.verdict{padding:8px 12px;border-radius:4px;font-weight:600}.verdict.complete{background:#e3f4e4}
.verdict.incomplete{background:#fff1cc;border:1px solid #f3a712}
.added{color:#b3001b}.removed{color:#2a7d2e}.changed{color:#a86b00}ul.tree{margin:0}
"""

SCRIPT = """
(function(){
  const q=document.getElementById('q'), cat=document.getElementById('cat');
  const sev=[...document.querySelectorAll('input.sevbox')];
  function apply(){
    const on=new Set(sev.filter(b=>b.checked).map(b=>b.value)), text=q.value.toLowerCase();
    let shown=0;
    for(const f of document.querySelectorAll('article.finding')){
      const ok=on.has(f.dataset.severity)&&(!cat.value||f.dataset.category===cat.value)
        &&(!text||f.textContent.toLowerCase().includes(text));
      f.hidden=!ok; if(ok) shown++;
    }
    document.getElementById('shown').textContent=shown;
  }
  q.addEventListener('input',apply); cat.addEventListener('change',apply);
  sev.forEach(b=>b.addEventListener('change',apply)); apply();
})();
"""


def _page(title: str, body: str, script: str = "") -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
            + (f"<script>{script}</script>\n" if script else "") + "</body></html>\n")


def bar_chart(title: str, counts: list[tuple[str, int]], colors: dict[str, str] | None = None) -> str:
    """Horizontal bars as inline SVG."""
    row, label_w, bar_w = 22, 190, 220
    top = max((n for _, n in counts), default=0) or 1
    height = row * max(len(counts), 1) + 28
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{label_w + bar_w + 50}" '
             f'height="{height}" viewBox="0 0 {label_w + bar_w + 50} {height}">',
             f'<text x="4" y="16" font-weight="bold" font-size="13">{escape(title)}</text>']
    for i, (label, n) in enumerate(counts):
        y = 26 + i * row
        width = round(bar_w * n / top) if n else 0
        color = (colors or {}).get(label, "#4a6fa5")
        parts.append(f'<text x="4" y="{y + 14}" font-size="12">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{width}" height="14" fill="{color}">'
                     f'<title>{escape(label)}: {n}</title></rect>'
                     f'<text x="{label_w + width + 4}" y="{y + 14}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def hex_view(evidence: Evidence) -> str | None:
    """16 bytes a line around the evidence, evidence bytes marked (None: no bytes kept)."""
    data, start = evidence.window, evidence.window_offset
    if not data:
        return None
    offset, length = evidence.offset, evidence.length
    shown_end = offset + min(length, WINDOW_EVIDENCE)
    end = start + len(data)
    lines = []
    for base in range(start, end, 16):
        hexes, chars = [], []
        for i in range(base, base + 16):
            if i >= end:
                hexes.append("  ")
                chars.append(" ")
                continue
            b = data[i - start]
            h, c = f"{b:02x}", escape(chr(b)) if 0x20 <= b < 0x7F else "."
            if offset <= i < shown_end:
                h, c = f"<mark>{h}</mark>", f"<mark>{c}</mark>"
            hexes.append(h)
            chars.append(c)
        lines.append(f"{base:08x}  {' '.join(hexes[:8])}  {' '.join(hexes[8:])}  |{''.join(chars)}|")
    if length > WINDOW_EVIDENCE:
        lines.append(f"… {length - WINDOW_EVIDENCE} more evidence bytes")
    return "\n".join(lines)


def container_tree(image_name: str, containers: tuple[Container, ...]) -> str:
    """Nested lists: each container under the longest other container its path starts with."""
    paths = [c.path for c in containers]
    children: dict[str, list[Container]] = {}
    for c in containers:
        parents = [p for p in paths if p != c.path and c.path.startswith(p + "/")]
        children.setdefault(max(parents, key=len) if parents else "", []).append(c)

    def render(parent: str) -> str:
        items = "".join(f"<li><code>{escape(c.path[len(parent):].lstrip('/'))}</code> "
                        f"<small>({escape(c.format)})</small>{render(c.path)}</li>"
                        for c in children.get(parent, []))
        return f'<ul class="tree">{items}</ul>' if items else ""

    return f"<code>{escape(image_name)}</code>{render('')}"


def coverage_section(coverage: dict[str, Any]) -> str:
    """What the scan examined: the verdict, the image's bytes container by container, the
    limits against what was used, and every reason the scan is incomplete."""
    state = "complete" if coverage["complete"] else "incomplete"
    image, limits, used = coverage["image"], coverage["limits"], coverage["used"]
    rows = "".join(f"<tr><td><code>0x{c['offset']:x}</code></td><td>{c['size']:,}</td>"
                   f"<td>{escape(c['format'])}</td><td>{escape(c['status'])}</td></tr>"
                   for c in image["containers"])
    figures = [("in unpacked containers", image["unpacked"]), ("identified, not unpacked",
                                                               image["identified"] - image["unpacked"]),
               ("unknown", image["unknown"]), ("… of it filler", image["filler"]),
               ("… of it high-entropy", image["high_entropy"])]
    bytes_rows = "".join(f"<tr><td>{escape(k)}</td><td>{v:,} ({size_text(v)})</td></tr>" for k, v in figures)
    limit_rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(str(used.get(key, '')))}</td>"
        f"<td>{escape(str(limits.get(limit, '')))}</td></tr>"
        for name, key, limit in [("bytes written", "bytes", "byte_budget"), ("files", "files", "max_files"),
                                 ("containers", "containers", "container_budget"),
                                 ("depth", "depth", "max_depth"),
                                 ("seconds of unpacking", "-", "max_seconds")])
    parts = [f'<h2>Coverage</h2><p class="verdict {state}" id="verdict">{escape(headline(coverage))}</p>',
             '<table class="grid"><tr><th>image bytes</th><th></th></tr>' + bytes_rows + "</table>",
             '<h3>Containers in the image</h3><table class="grid"><tr><th>offset</th><th>bytes</th>'
             "<th>format</th><th>status</th></tr>" + rows + "</table>",
             '<h3>Limits</h3><table class="grid"><tr><th>limit</th><th>used</th><th>allowed</th></tr>'
             + limit_rows + "</table>"]
    if coverage["incomplete"]:
        parts.append('<h3>Not examined</h3><ul id="incomplete">' + "".join(
            f"<li><b>{escape(i['kind'])}</b> {escape(i['path']) + ': ' if i['path'] else ''}"
            f"{escape(i['reason'])}</li>"
            for i in coverage["incomplete"]) + "</ul>")
    return "\n".join(parts)


def _finding(f: Finding, image_sha256: str) -> str:
    rule, ev, fid = f.rule, f.evidence, escape(f.finding_id(image_sha256))
    severity, category = f.severity.value, rule.category.value
    where = " › ".join(f.container) + " › " + f.path
    parts = [f'<article class="finding" id="f-{fid}" data-severity="{severity}" '
             f'data-category="{category}">',
             f'<h3><span class="sev" style="background:{COLORS.get(severity, "#888")}">'
             f'{severity}</span> {escape(f.title)}</h3>',
             f'<div><code>{escape(rule.id)}</code> · {category} · id <code>{fid}'
             f'</code></div>',
             f'<div>where: <code>{escape(where)}</code> at byte {ev.offset}, {ev.length} bytes; '
             f'file sha256 <code>{escape(ev.sha256)}</code></div>']
    if rule.why:
        parts.append(f"<p><b>Why it matters.</b> {escape(rule.why)}</p>")
    parts.append(f'<div>evidence excerpt</div><pre class="excerpt">{escape(ev.excerpt)}</pre>')
    if hexdump := hex_view(ev):
        parts.append(f'<div>bytes around offset {ev.offset}</div><pre class="hex">{hexdump}</pre>')
    if f.details:
        details = json.dumps(f.details, indent=1, ensure_ascii=False)
        parts.append(f"<div>details</div><pre>{escape(details)}</pre>")
    if rule.confirm:
        parts.append(f"<p><b>How to confirm by hand.</b> {escape(rule.confirm)}</p>")
    if rule.references:
        parts.append("<div>references: " + "; ".join(f"<code>{escape(r)}</code>" for r in rule.references)
                     + "</div>")
    parts.append("</article>")
    return "\n".join(parts)


def report_html(report: Report) -> str:
    """The page of one report (with hex views where its evidence kept the bytes around it)."""
    findings = report.findings
    image = report.image
    by_sev = Counter(f.severity.value for f in findings)
    by_cat = Counter(f.category.value for f in findings)
    meta = "".join(f"<tr><td>{escape(k)}</td><td><code>{escape(str(v))}</code></td></tr>"
                   for k, v in [("image", image.name), ("sha256", image.sha256),
                                ("size", f"{image.size:,} bytes"), ("vendor", image.vendor),
                                ("product", image.product), ("version", image.version),
                                ("tool", f"firmproof {report.tool_version}"),
                                ("unpacked", f"{report.unpack.files} files, "
                                             f"{report.unpack.bytes:,} bytes, "
                                             f"depth {report.unpack.depth}")]
                   if v is not None)
    sev_boxes = "".join(f'<label><input type="checkbox" class="sevbox" value="{s.value}" checked> '
                        f'{s.value} ({by_sev.get(s.value, 0)})</label>' for s in Severity)
    cat_options = "".join(f'<option value="{escape(c)}">{escape(c)} ({n})</option>'
                          for c, n in sorted(by_cat.items()))
    errors = [f"{e.path}: {e.error}" for e in report.unpack.errors]
    errors += [f"{e.analyzer} on {e.path}: {e.error}" for e in report.errors]
    body = [
        f"<header><h1>firmproof report: {escape(image.name)}</h1>",
        f'<table class="meta">{meta}</table></header><main>',
        *([coverage_section(report.coverage)] if report.coverage is not None else []),
        f"<h2>Summary</h2><p><b id=\"total\">{len(findings)}</b> findings.</p>",
        '<div class="charts">'
        + bar_chart("findings by severity", [(s.value, by_sev.get(s.value, 0)) for s in Severity], COLORS)
        + bar_chart("findings by category", sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0])))
        + "</div>",
        "<h2>Containers</h2>" + container_tree(image.name, report.unpack.containers),
    ]
    if errors:
        body.append("<h2>Errors</h2><ul>" + "".join(f"<li>{escape(e)}</li>" for e in errors) + "</ul>")
    body += [
        "<h2>Findings</h2>",
        f'<div class="filters"><input id="q" type="search" placeholder="search findings" size="30"> '
        f'{sev_boxes} <select id="cat"><option value="">all categories</option>{cat_options}</select> '
        f'<span><b id="shown">{len(findings)}</b> shown</span></div>',
        *(_finding(f, image.sha256) for f in findings),
        "</main>",
    ]
    return _page(f"firmproof: {image.name}", "\n".join(body), SCRIPT)


def _finding_rows(label: str, css: str, findings: list[Finding], notes: list[str] | None = None) -> str:
    return "".join(f'<tr class="{css}"><td>{label}</td><td>{f.severity.value}</td>'
                   f'<td><code>{escape(f.rule.id)}</code></td><td><code>{escape(f.path)}</code></td>'
                   f'<td>{escape(f.title)}{escape(notes[i]) if notes else ""}<pre>'
                   f'{escape(f.evidence.excerpt)}</pre></td></tr>'
                   for i, f in enumerate(findings))


def diff_html(diff: Diff) -> str:
    """The page of a diff: findings that appeared/vanished/changed and the inventory side by side."""
    old, new = diff.old.report.image, diff.new.report.image
    body = [f"<header><h1>firmproof diff: {escape(old.name)} → {escape(new.name)}</h1>",
            f'<table class="meta"><tr><td>old</td><td><code>{escape(old.name)}</code> '
            f'sha256 <code>{escape(old.sha256)}</code></td></tr>'
            f'<tr><td>new</td><td><code>{escape(new.name)}</code> '
            f'sha256 <code>{escape(new.sha256)}</code></td></tr></table></header><main>',
            f"<h2>Findings</h2><p>{len(diff.appeared)} appeared, {len(diff.vanished)} vanished, "
            f"{len(diff.changed)} changed.</p>",
            '<table class="grid"><tr><th>change</th><th>severity</th><th>rule</th><th>path</th>'
            '<th>what</th></tr>'
            + _finding_rows("appeared", "added", diff.appeared)
            + _finding_rows("vanished", "removed", diff.vanished)
            + _finding_rows("changed", "changed", [c.new for c in diff.changed],
                            [f" ({', '.join(c.fields)})" for c in diff.changed])
            + "</table>"]
    if diff.inventory is None:
        body.append("<p>Inventory: compare two images (not reports) to see it.</p>")
    else:
        for section, changes in diff.inventory.items():
            rows = [f'<tr class="added"><td>added</td><td><code>{escape(k)}</code></td><td></td>'
                    f'<td><code>{escape(v)}</code></td></tr>' for k, v in changes["added"].items()]
            rows += [f'<tr class="removed"><td>removed</td><td><code>{escape(k)}</code></td>'
                     f'<td><code>{escape(v)}</code></td><td></td></tr>'
                     for k, v in changes["removed"].items()]
            rows += [f'<tr class="changed"><td>changed</td><td><code>{escape(k)}</code></td>'
                     f'<td><code>{escape(a)}</code></td><td><code>{escape(b)}</code></td></tr>'
                     for k, (a, b) in changes["changed"].items()]
            body.append(f"<h2>{escape(section)}</h2>" + (
                '<table class="grid"><tr><th></th><th>what</th><th>old</th><th>new</th></tr>'
                + "".join(rows) + "</table>" if rows else "<p>no change</p>"))
        if diff.lines:
            body.append("<h2>Changed lines</h2>")
            for path, lines in diff.lines.items():
                text = [f'<span class="removed">- {escape(x)}</span>' for x in lines["removed"]]
                text += [f'<span class="added">+ {escape(x)}</span>' for x in lines["added"]]
                body.append(f"<h3><code>{escape(path)}</code></h3><pre>" + "\n".join(text) + "</pre>")
    body.append("</main>")
    return _page(f"firmproof diff: {old.name} → {new.name}", "\n".join(body))
