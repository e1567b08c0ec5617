"""The JSON API under /api: images, scans (filtered, a page at a time), one scan with its findings
and components, one finding, the stored report. Its OpenAPI document is /api/openapi.json;
every response is one of the models below, so the document describes exactly what is sent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from firmproof.store.schema import SEVERITIES, TRIAGE_STATES
from firmproof.store.timeline import timeline
from firmproof.store.triage import TriageError, mark_finding
from firmproof.web import queries
from firmproof.web.access import admin
from firmproof.web.auth import User
from firmproof.web.queries import TRIAGE_FILTERS, ScanFilters

Severity = Literal[SEVERITIES]          # type: ignore[valid-type]
TriageFilter = Literal[(*TRIAGE_STATES, *TRIAGE_FILTERS)]   # type: ignore[valid-type]
TriageState = Literal[TRIAGE_STATES]    # type: ignore[valid-type]


class ImageOut(BaseModel):
    id: int
    name: str
    sha256: str
    size: int
    vendor: str | None
    product: str | None
    version: str | None
    release_date: date | None
    scans: int
    last_scan: int
    last_status: Literal["ok", "error"]
    last_findings: int


class ImagePage(BaseModel):
    items: list[ImageOut]
    total: int
    page: int
    per_page: int
    pages: int


class ScanOut(BaseModel):
    id: int
    image_id: int
    image: str
    sha256: str
    size: int
    vendor: str | None
    product: str | None
    version: str | None
    release_date: date | None
    tool_version: str
    rules_version: str
    status: Literal["ok", "error"]
    error: str | None
    findings: int
    severities: dict[str, int]
    complete: bool | None
    examined_share: float | None
    started: datetime | None
    seconds: float | None


class ScanPage(BaseModel):
    items: list[ScanOut]
    total: int
    page: int
    per_page: int
    pages: int


class EvidenceOut(BaseModel):
    sha256: str
    offset: int
    length: int
    excerpt: str


class FindingOut(BaseModel):
    id: int
    scan_id: int
    finding_id: str
    rule: str
    category: str
    severity: Severity
    title: str
    path: str
    container: list[str]
    evidence: EvidenceOut
    details: dict[str, Any]
    references: list[str]
    key: str
    triage: TriageState | None


class MarkOut(BaseModel):
    state: TriageState
    comment: str
    who: str
    at: datetime
    scope: str = Field(description="where the mark holds: a product ('Acme R1') or one image")


class MarkIn(BaseModel):
    state: TriageState
    comment: str = Field("", max_length=4000)


class FindingDetail(FindingOut):
    marks: list[MarkOut]


class ComponentOut(BaseModel):
    name: str
    version: str
    source: str
    cpe: str | None
    purl: str
    path: str
    container: list[str]
    version_from: str
    evidence_sha256: str
    evidence_offset: int
    evidence_length: int


class ScanDetail(ScanOut):
    findings_list: list[FindingOut]
    components: list[ComponentOut]


class ReleaseOut(BaseModel):
    release_date: date | None
    version: str | None
    image: str
    image_sha256: str
    scan: int | None = Field(description="the newest scan that gave a report (None: none did)")
    status: str
    error: str | None
    findings: int | None
    critical: int | None
    high: int | None
    medium: int | None
    low: int | None
    info: int | None
    new: int | None = Field(description="findings (by triage key) not in the release before")
    gone: int | None
    open_critical_high: int | None
    known_backdoors: list[str]


class Problem(BaseModel):
    detail: str


T = TypeVar("T")


def store_of(request: Request) -> Any:
    return request.app.state.store


def found(value: T | None, missing: str) -> T:
    """`value`, or a 404 saying what is `missing` (for the API and the pages alike)."""
    if value is None:
        raise HTTPException(404, missing)
    return value


def scan_filters(
        q: Annotated[str | None, Query(description="part of the image's name, vendor, product, "
                                                   "version or sha256")] = None,
        vendor: str | None = None, product: str | None = None, version: str | None = None,
        severity: Annotated[Severity | None, Query(description="a finding at this severity "
                                                                "or above")] = None,
        category: str | None = None, rule: str | None = None,
        triage: Annotated[TriageFilter | None, Query(description="a finding in this triage state "
                                                                 "('untriaged': no mark holds; 'open': "
                                                                 "untriaged or confirmed)")] = None,
        since: Annotated[date | None, Query(description="scans started on this day or later")] = None,
        until: Annotated[date | None, Query(description="scans started on this day or earlier")] = None,
) -> ScanFilters:
    return ScanFilters(q=q or None, vendor=vendor or None, product=product or None, version=version or None,
                       severity=severity, category=category or None, rule=rule or None,
                       triage=triage, since=since, until=until)


Filters = Annotated[ScanFilters, Depends(scan_filters)]
# bounds the database can take, documented (queries.MAX_PAGE, MAX_ID)
PageNumber = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]
PerPage = Annotated[int, Query(ge=1, le=queries.MAX_PER_PAGE)]
ScanId = Annotated[int, PathParam(ge=1, le=queries.MAX_ID)]
FindingId = Annotated[int, PathParam(ge=1, le=queries.MAX_ID)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}

REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid bearer token (authentication is configured)"},
    403: {"model": Problem, "description": "the token's role may not do this"}}
router = APIRouter(prefix="/api", tags=["store"], responses=REFUSED)


def paged(found: queries.Page) -> dict[str, Any]:
    """A page as every paged list of the API answers it (items, total, page, per_page, pages)."""
    return {"items": found.items, "total": found.total, "page": found.page, "per_page": found.per_page,
            "pages": found.pages}


@router.get("/images", response_model=ImagePage,
            summary="images by vendor, product and release, with their last scan, a page at a time")
def images(request: Request, page: PageNumber = 1, per_page: PerPage = 50) -> dict[str, Any]:
    return paged(queries.images(store_of(request), page, per_page))


@router.get("/scans", response_model=ScanPage, summary="scans, newest first, filtered, a page at a time")
def scans(request: Request, filters: Filters, page: PageNumber = 1, per_page: PerPage = 50) -> dict[str, Any]:
    return paged(queries.scans(store_of(request), filters, page, per_page))


@router.get("/scans/{scan_id}", response_model=ScanDetail, responses=NOT_FOUND,
            summary="one scan with its findings and components")
def scan(request: Request, scan_id: ScanId) -> dict[str, Any]:
    store = store_of(request)
    row = found(queries.scan(store, scan_id), f"no scan {scan_id}")
    return {**row, "findings_list": queries.findings(store, scan_id),
            "components": queries.components(store, scan_id)}


@router.get("/scans/{scan_id}/report", response_model=dict[str, Any], responses=NOT_FOUND,
            summary="the report (firmproof.report/1 JSON) stored with the scan")
def report(request: Request, scan_id: ScanId) -> dict[str, Any]:
    data = found(queries.report(store_of(request), scan_id), f"no report for scan {scan_id}")
    return data


@router.get("/findings/{finding_id}", response_model=FindingDetail, responses=NOT_FOUND,
            summary="one finding with its triage marks")
def finding(request: Request, finding_id: FindingId) -> dict[str, Any]:
    row = found(queries.finding(store_of(request), finding_id), f"no finding {finding_id}")
    return row


# a mark's refusals: a body that is not JSON (400); one that is not a mark (422, the validation
# error) or that the store refuses (422, a Problem)
MARK_REFUSED: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    400: {"model": Problem, "description": "the body is not JSON"},
    422: {"description": "the body is not a mark, or the store refused the mark",
          "content": {"application/json": {"schema": {"anyOf": [
              {"$ref": "#/components/schemas/HTTPValidationError"},
              {"$ref": "#/components/schemas/Problem"}]}}}}}


@router.post("/findings/{finding_id}/triage", response_model=MarkOut, responses=MARK_REFUSED,
             summary="mark a finding (for every release of its product); needs the admin role")
def triage(request: Request, finding_id: FindingId, body: MarkIn,
           user: Annotated[User, Depends(admin)]) -> dict[str, Any]:
    return mark(request, finding_id, body.state, body.comment, user)


def mark(request: Request, finding_id: int, state: str, comment: str, user: User) -> dict[str, Any]:
    """Mark the finding with row id `finding_id` as `user` (the pages' form posts here too)."""
    store = store_of(request)
    row = found(queries.finding(store, finding_id), f"no finding {finding_id}")
    try:
        done = mark_finding(store, row["scan_id"], row["finding_id"], state, comment=comment, who=user.name)
    except TriageError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"state": done.state, "comment": done.comment, "who": done.who, "at": done.at, "scope": done.scope}


@router.get("/timeline", response_model=list[ReleaseOut],
            summary="a product's releases in order: findings per release, new, gone, open")
def product_timeline(request: Request, vendor: str, product: str) -> list[dict[str, Any]]:
    return timeline(store_of(request), vendor, product)
