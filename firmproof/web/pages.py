"""The pages people read: the scans list (search, filters, pages), one scan, one finding.
Server-rendered from `templates/`, styled by the one CSS file in `static/`: no script, nothing
fetched from elsewhere, so that they work offline and print as they show."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from firmproof.analyzers.registry import rule_by_id
from firmproof.store.schema import SEVERITIES, TRIAGE_STATES
from firmproof.store.timeline import timeline
from firmproof.web import queries
from firmproof.web.access import admin
from firmproof.web.api import found, mark, store_of
from firmproof.web.auth import User
from firmproof.web.chart import findings_per_release
from firmproof.web.hexview import excerpt_bytes, hex_lines
from firmproof.web.queries import TRIAGE_FILTERS, ScanFilters
from firmproof.web.rendering import render

FILTER_FIELDS = ("q", "vendor", "product", "version", "severity", "category", "rule", "triage", "since",
                 "until")

router = APIRouter(include_in_schema=False)


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters(params: dict[str, str]) -> tuple[ScanFilters, list[str]]:
    """The form's filters; values that cannot be (an unknown severity, a bad date) are dropped
    and named, so the page says what it ignored instead of failing."""
    ignored = []
    severity = params.get("severity") or None
    if severity is not None and severity not in SEVERITIES:
        ignored.append(f"severity {severity!r}")
        severity = None
    triage = params.get("triage") or None
    if triage is not None and triage not in (*TRIAGE_STATES, *TRIAGE_FILTERS):
        ignored.append(f"triage {triage!r}")
        triage = None
    dates = {}
    for name in ("since", "until"):
        dates[name] = _date(params.get(name))
        if params.get(name) and dates[name] is None:
            ignored.append(f"{name} {params[name]!r} (a date such as 2024-05-31)")
    return ScanFilters(q=params.get("q") or None, vendor=params.get("vendor") or None,
                       product=params.get("product") or None, version=params.get("version") or None,
                       severity=severity, category=params.get("category") or None,
                       rule=params.get("rule") or None, triage=triage, **dates), ignored


def _number(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() else default


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/scans", status_code=303)


@router.get("/scans", response_class=HTMLResponse)
def scans_page(request: Request) -> HTMLResponse:
    params = {k: v for k, v in request.query_params.items() if k in (*FILTER_FIELDS, "page", "per_page")}
    filters, ignored = _filters(params)
    listed = queries.scans(store_of(request), filters, _number(params.get("page"), 1),
                           _number(params.get("per_page"), 50))
    kept = {k: v for k, v in params.items() if k in FILTER_FIELDS and v}
    if listed.per_page != 50:
        kept["per_page"] = str(listed.per_page)

    def page_url(number: int) -> str:
        return "/scans?" + urlencode({**kept, "page": number})

    return render(request, "scans.html", page=listed, params=params, ignored=ignored, page_url=page_url,
                  choices=queries.choices(store_of(request)), severities=SEVERITIES,
                  triage_states=(*TRIAGE_STATES, *TRIAGE_FILTERS))


@router.get("/scans/{scan_id}", response_class=HTMLResponse)
def scan_page(request: Request, scan_id: int) -> HTMLResponse:
    store = store_of(request)
    row = found(queries.scan(store, scan_id), f"no scan {scan_id}")
    report = queries.report(store, scan_id) or {}
    return render(request, "scan.html", scan=row, findings=queries.findings(store, scan_id),
                  components=queries.components(store, scan_id), coverage=report.get("coverage"),
                  report=report, severities=SEVERITIES, triage_states=TRIAGE_STATES)


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(request: Request, finding_id: int) -> HTMLResponse:
    store = store_of(request)
    row = found(queries.finding(store, finding_id), f"no finding {finding_id}")
    evidence = row["evidence"]
    elsewhere_count, elsewhere = queries.same_finding_elsewhere(store, row["key"], finding_id)
    return render(request, "finding.html", finding=row, scan=queries.scan(store, row["scan_id"]),
                  rule=rule_by_id(row["rule"]),
                  hex=hex_lines(excerpt_bytes(evidence["excerpt"]), evidence["offset"]),
                  elsewhere=elsewhere, elsewhere_count=elsewhere_count,
                  triage_states=TRIAGE_STATES)


@router.post("/findings/{finding_id}/triage")
def triage_form(request: Request, finding_id: int, state: Annotated[str, Form()],
                user: Annotated[User, Depends(admin)], comment: Annotated[str, Form()] = "",
                back: Annotated[str, Form()] = "") -> RedirectResponse:
    """The triage form of the scan and finding pages: mark, then back to the page it was on."""
    if state not in TRIAGE_STATES:
        raise HTTPException(422, f"{state!r}: a triage state is one of {', '.join(TRIAGE_STATES)}")
    mark(request, finding_id, state, comment[:4000], user)
    target = back if back.startswith("/") and not back.startswith("//") else f"/findings/{finding_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/timeline", response_class=HTMLResponse)
def timeline_page(request: Request, vendor: str = "", product: str = "") -> HTMLResponse:
    """A product's releases in order, its findings per release as a chart."""
    if not vendor or not product:
        raise HTTPException(404, "a timeline is of one product: /timeline?vendor=V&product=P")
    releases = timeline(store_of(request), vendor, product)
    return render(request, "timeline.html", vendor=vendor, product=product, releases=releases,
                  chart=findings_per_release(releases), severities=SEVERITIES)


@router.get("/diff", response_class=HTMLResponse)
def diff_page(request: Request, old: int = 0, new: int = 0) -> HTMLResponse:
    """Two stored scans compared, as `firmproof diff OLD.json NEW.json --html` shows them."""
    from firmproof.evidence.diff import Side, diff_sides
    from firmproof.report import Report
    from firmproof.report.html import diff_html

    store = store_of(request)
    sides = []
    for scan_id in (old, new):
        data = found(queries.report(store, scan_id),
                     f"no report stored for scan {scan_id}: /diff?old=SCAN&new=SCAN")
        sides.append(Side(f"scan {scan_id}", Report.from_json(data, name=f"scan {scan_id}")))
    return HTMLResponse(diff_html(diff_sides(*sides)))
