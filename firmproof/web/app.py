"""The application: the store it reads, the API and the pages, the one style sheet, and how a
refusal reads (JSON under /api, a page elsewhere). OpenAPI at /api/openapi.json; no Swagger
page (it would load its script from elsewhere)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from firmproof import __version__
from firmproof.config import MIN_EXAMINED, Limits
from firmproof.web import access, api, jobs, pages, search, uploads, vendors
from firmproof.web.auth import AuthFile
from firmproof.web.rendering import render
from firmproof.web.throttle import LoginThrottle

if TYPE_CHECKING:
    from firmproof.store import Store

OPENAPI_URL = "/api/openapi.json"
STATIC = Path(__file__).resolve().parent / "static"


def create_app(store: Store, auth: AuthFile | None = None, data_dir: Path | None = None,
               upload_limit: int = uploads.DEFAULT_LIMIT, scan_limits: Limits | None = None,
               min_examined: float = MIN_EXAMINED, job_retention: timedelta = jobs.RETENTION) -> FastAPI:
    """The application over `store`; without `auth`, everyone is the local admin (loopback).
    `data_dir` is where the server keeps what it is given: images under `images/`, named by
    their sha256 (`kept_image`), upload jobs under `uploads/` (`jobs_dir`); nothing is written
    there until something is given (an upload of at most `upload_limit` bytes, scanned by the
    uploads' scanner while the server runs, under `scan_limits` and `min_examined` as `scan`
    would be); a done or failed upload job is forgotten `job_retention` after it ended."""
    app = FastAPI(title="firmproof", version=__version__, openapi_url=OPENAPI_URL, docs_url=None,
                  redoc_url=None, description="The results store of firmproof: images, scans, findings.",
                  lifespan=uploads.lifespan)
    app.state.store = store
    app.state.auth = auth
    app.state.data_dir = data_dir
    app.state.throttle = LoginThrottle()
    app.state.upload_limit = upload_limit
    app.state.scan_limits = scan_limits or Limits()
    app.state.min_examined = min_examined
    app.state.job_retention = job_retention
    app.state.secret = auth.secret if auth is not None else secrets.token_bytes(32)   # signs CSRF tokens
    app.middleware("http")(access.middleware)
    app.include_router(api.router)
    app.include_router(access.router)
    app.include_router(pages.router)
    app.include_router(uploads.api)
    app.include_router(uploads.pages)
    app.include_router(vendors.api)
    app.include_router(vendors.router)
    app.include_router(search.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code,
                            detail=exc.detail)

    return app


def images_dir(app: FastAPI) -> Path | None:
    """The folder of the images the server keeps (None: the server keeps none)."""
    data_dir: Path | None = app.state.data_dir
    return data_dir / "images" if data_dir is not None else None


def jobs_dir(app: FastAPI) -> Path | None:
    """The folder of the upload jobs' files (`firmproof.web.jobs`; None: no data folder)."""
    data_dir: Path | None = app.state.data_dir
    return data_dir / "uploads" if data_dir is not None else None


def kept_image(app: FastAPI, sha256: str) -> Path | None:
    """The kept copy of the image whose sha256 this is, where the server holds one."""
    folder = images_dir(app)
    if folder is None or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    path = folder / sha256
    return path if path.is_file() and not path.is_symlink() else None
