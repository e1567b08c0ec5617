"""The application: the store it reads, the API and the pages, the one style sheet, and how a
refusal reads (JSON under /api, a page elsewhere). OpenAPI at /api/openapi.json; no Swagger
page (it would load its script from elsewhere)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from firmproof import __version__
from firmproof.web import access, api, pages
from firmproof.web.auth import AuthFile
from firmproof.web.rendering import render

if TYPE_CHECKING:
    from firmproof.store import Store

OPENAPI_URL = "/api/openapi.json"
STATIC = Path(__file__).resolve().parent / "static"


def create_app(store: Store, auth: AuthFile | None = None) -> FastAPI:
    """The application over `store`; without `auth`, everyone is the local admin (loopback)."""
    app = FastAPI(title="firmproof", version=__version__, openapi_url=OPENAPI_URL, docs_url=None,
                  redoc_url=None, description="The results store of firmproof: images, scans, findings.")
    app.state.store = store
    app.state.auth = auth
    app.state.secret = auth.secret if auth is not None else secrets.token_bytes(32)   # signs CSRF tokens
    app.middleware("http")(access.middleware)
    app.include_router(api.router)
    app.include_router(access.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code,
                            detail=exc.detail)

    return app
