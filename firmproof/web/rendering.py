"""The pages' templates (`templates/`) and how a page is rendered: every page knows who is
asking and carries the CSRF token its forms post."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
# a detail's value as the report's JSON has it (text as itself)
TEMPLATES.env.filters["plain"] = lambda v: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The template `name` filled with `context`, who is asking and the forms' CSRF token."""
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("csrf", getattr(request.state, "csrf", ""))
    context.setdefault("sessions", request.app.state.auth is not None)
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
