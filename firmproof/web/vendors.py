"""The vendor view for procurement (issue 15): `GET /api/vendors`, `GET /api/vendors/{vendor}`,
the pages `/vendors` and `/vendors/{vendor}` (`?print=1`: as it prints), and its CSV,
`/vendors/{vendor}.csv` (a page path, so that a logged-in browser downloads it; the columns are
`firmproof.store.vendors.CSV_COLUMNS`, in that order). What they show is
`firmproof.store.vendors`'s rows; the read role suffices for all of them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from firmproof.store.export import plain
from firmproof.store.schema import SEVERITIES
from firmproof.store.vendors import CSV_COLUMNS, csv_rows, open_by_finding, vendor, vendors
from firmproof.web import queries
from firmproof.web.api import NOT_FOUND, REFUSED, ReleaseOut, found, paged, store_of
from firmproof.web.rendering import render


class VendorOut(BaseModel):
    vendor: str
    images: int
    products: int
    releases: int = Field(description="product and version pairs (an image naming no version counts alone)")
    scans: int
    latest_release: date | None


class VendorReleaseOut(ReleaseOut):
    scanned: datetime | None = Field(description="when the newest scan that gave a report started")


class ProductOut(BaseModel):
    product: str | None
    releases: list[VendorReleaseOut]


class OpenFindingOut(BaseModel):
    id: int = Field(description="the finding's row id (/api/findings/{id})")
    scan: int
    finding_id: str
    rule: str
    severity: Literal["critical", "high"]
    title: str
    path: str
    offset: int
    key: str
    triage: Literal["untriaged", "confirmed"]
    product: str | None
    version: str | None
    release_date: date | None
    image: str
    image_sha256: str


class OpenFindingPage(BaseModel):
    items: list[OpenFindingOut] = Field(description="this page's open findings, a row per release holding "
                                                    "each, by product, release, severity, rule, path")
    total: int = Field(description="how many open findings the vendor's releases hold in all")
    page: int
    per_page: int
    pages: int


class BackdoorOut(BaseModel):
    product: str | None
    rule: str
    title: str
    releases: int = Field(description="how many of the product's scanned releases held it")
    of_releases: int = Field(description="how many releases of the product were scanned")
    first_seen: str
    first_date: date | None
    last_seen: str
    last_date: date | None
    in_latest: bool = Field(description="the product's newest scanned release still holds it")
    versions: list[str]


class PlaceOut(BaseModel):
    vendor: str | None
    product: str | None
    version: str | None
    release_date: date | None
    image: str
    scan: int
    path: str
    kind: str | None = Field(None, description="keys: private or authorized")


class SharedOut(BaseModel):
    item: str = Field(description="a key's fingerprint (SHA256:…) or an executable's sha256")
    here: list[PlaceOut] = Field(description="this vendor's images holding it (the first 50)")
    elsewhere: list[PlaceOut] = Field(description="other vendors' images and images naming none "
                                                  "(the first 50)")
    here_total: int = Field(description="how many places of this vendor's images hold it")
    elsewhere_total: int
    products: list[str] = Field(description="this vendor's products holding it")
    vendors: list[str] = Field(description="the other vendors holding it")


class SharedKeyOut(SharedOut):
    type: str
    comment: str


class SharedExecutableOut(SharedOut):
    size: int


class VendorDetail(BaseModel):
    vendor: str
    products: list[ProductOut]
    open_findings: OpenFindingPage = Field(description="the critical and high findings still open, a "
                                                       "page at a time (`page`, `per_page`); the CSV "
                                                       "has them all")
    backdoors: list[BackdoorOut]
    shared_keys: list[SharedKeyOut]
    shared_executables: list[SharedExecutableOut]


api = APIRouter(prefix="/api", tags=["vendors"], responses=REFUSED)
router = APIRouter(include_in_schema=False)


def _view(request: Request, name: str, *, per_release: bool = True) -> dict[str, Any]:
    return found(vendor(store_of(request), name, per_release=per_release),
                 f"no image of vendor {name!r} in the store")


@api.get("/vendors", response_model=list[VendorOut],
         summary="every vendor the images name: how many images, products, releases and scans")
def vendor_list(request: Request) -> list[dict[str, Any]]:
    return vendors(store_of(request))


@api.get("/vendors/{vendor:path}", response_model=VendorDetail, responses=NOT_FOUND,
         summary="one vendor for procurement: products and releases, open critical and high "
                 "findings, how long each known backdoor stayed, keys and executables shared "
                 "with another product or vendor")
def vendor_detail(request: Request, vendor: str,
                  page: Annotated[int, Query(ge=1, le=queries.MAX_PAGE,
                                             description="the page of `open_findings`")] = 1,
                  per_page: Annotated[int, Query(ge=1, le=queries.MAX_PER_PAGE,
                                                 description="open findings a page")] = 50) -> dict[str, Any]:
    # a vendor's every release may hold the same findings: on the bench store 3,500 rows, 1.8 MB
    # in one answer; the other lists of the view are bounded (products, backdoors, 50 places a side)
    view = _view(request, vendor)
    return {**view, "open_findings": paged(queries.Page.of(view["open_findings"], page, per_page))}


@router.get("/vendors", response_class=HTMLResponse)
def vendors_page(request: Request) -> HTMLResponse:
    return render(request, "vendors.html", vendors=vendors(store_of(request)))


FORMULA = ("=", "+", "-", "@", "\t", "\r")    # what a spreadsheet would take for a formula


def _cell(value: Any) -> Any:
    """A CSV cell: dates as ISO 8601; text read from an image that a spreadsheet would run as a
    formula is written after a quote (OWASP's advice for CSV injection)."""
    value = plain(value)
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA) else value


def to_csv(view: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(view):
        writer.writerow(["" if row.get(c) is None else _cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def _file_name(name: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name).strip("._")
    return f"firmproof-vendor-{safe or 'vendor'}.csv"


# before the page's route: /vendors/{vendor:path} would take 'Acme.csv' for a vendor's name
@router.get("/vendors/{vendor:path}.csv")
def vendor_csv(request: Request, vendor: str) -> Response:
    view = _view(request, vendor)
    disposition = f'attachment; filename="{_file_name(vendor)}"'
    return Response(to_csv(view), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})


@router.get("/vendors/{vendor:path}", response_class=HTMLResponse)
def vendor_page(request: Request, vendor: str,
                printable: Annotated[str, Query(alias="print")] = "") -> HTMLResponse:
    """The view; `?print=1` shows it as it prints (no navigation, no links to follow)."""
    view = _view(request, vendor, per_release=False)
    return render(request, "vendor.html", view=view, opened=open_by_finding(store_of(request), view),
                  severities=SEVERITIES,
                  printable=bool(printable),
                  generated=datetime.now(UTC), csv_url=f"/vendors/{quote(vendor)}.csv",
                  page_url=f"/vendors/{quote(vendor)}")
