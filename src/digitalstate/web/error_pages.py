"""The HTML 404 page every feature answers with: one context, so that each says the same."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.web.i18n import _


def not_found_page(
    templates: Jinja2Templates, request: Request, detail: str | None = None
) -> Response:
    """The 404 page: "Page not found" and detail (by default: check the web address typed)."""
    context = {
        "status": 404,
        "title": _("Page not found"),
        "detail": detail or _("If you typed the web address, check it is correct."),
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=404)
