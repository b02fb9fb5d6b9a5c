"""A service node's pages: start, use my details from the People register, and what we hold.

The flow (docs/adr/0008): a signed-in person is asked whether we may get named details from
their register; "Continue" asks the charter for a consent request and sends the browser to the
charter's consent screen; the charter sends the browser back to /service/consent-return with
a consent id (or error=access_denied); we keep the consent only once the charter confirms it
answered this request for this person (services/returns.py), then read the details under it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.relying_party import Subject, require_subject
from digitalstate.node.runtime import NodeRuntime
from digitalstate.registers.domain import field_label
from digitalstate.registers.presenter import display_lines
from digitalstate.routing import Router
from digitalstate.services.domain import ServiceEntry
from digitalstate.services.returns import RETURN_STATUS, remember_request, take_return
from digitalstate.services.service import (
    HeldCopy,
    ServiceError,
    latest_copy,
    refresh_copy,
    request_consent,
)
from digitalstate.storage.retrying import run_step
from digitalstate.web.session import require_csrf

log = logging.getLogger("digitalstate.services")

# The consent request this browser was sent to the charter with, to check the way back.
PENDING_KEY = "service_consent_request"

SignedIn = Annotated[Subject, Depends(require_subject)]


def make_pages_router(
    node: NodeRuntime, templates: Jinja2Templates, entry: ServiceEntry
) -> APIRouter:
    """The service's pages, bound to node and its catalogue entry."""
    pages = ServicePages(node, entry, templates)
    router = Router(include_in_schema=False)
    for path, handler in (
        ("/service", pages.start),
        ("/service/details", pages.details),
        ("/service/consent-return", pages.consent_return),
    ):
        router.add_api_route(path, handler, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(
        "/service/details",
        pages.ask_for_consent,
        methods=["POST"],
        dependencies=[Depends(require_csrf)],
    )
    return router


class ServicePages:
    """The route handlers of one service's pages."""

    def __init__(self, node: NodeRuntime, entry: ServiceEntry, templates: Jinja2Templates) -> None:
        self.node = node
        self.entry = entry
        self.templates = templates

    def render(self, request: Request, page: str, status: int = 200, **context: Any) -> Response:
        """A page of services/ with what every service page shows."""
        base = {
            "node": self.node.settings.node,
            "service": self.entry,
            "why": _purpose_wording(self.node, self.entry),
            "asked": [field_label(name) for name in self.entry.fields],
        }
        return self.templates.TemplateResponse(
            request, f"services/{page}.html", base | context, status_code=status
        )

    async def start(self, request: Request) -> Response:
        """The start page: what the service does and what you need."""
        return self.render(request, "start")

    async def details(self, request: Request, subject: SignedIn) -> Response:
        """Your details as we hold them, or the question whether we may get them."""
        node = self.node
        held = await run_step(node.sessions, lambda s: latest_copy(s, subject.sub))
        if held is not None and held.status == "active":
            # Read again on every visit under an active consent: a read is how this service
            # learns that the person withdrew it (the holder refuses the very next read), and
            # it fills a copy the register could not give when the consent was new. A read
            # that fails keeps the last copy.
            await refresh_copy(node, held.consent_id)
            held = await run_step(node.sessions, lambda s: latest_copy(s, subject.sub))
        if held is None:
            return self.render(request, "ask")
        return self.render(request, "details", held=held, rows=_rows(node, held))

    async def ask_for_consent(self, request: Request, subject: SignedIn) -> Response:
        """Continue: ask the charter for a consent request and go to its consent screen."""
        try:
            asked = await request_consent(self.node, subject.sub, self.entry)
        except ServiceError as exc:
            return self.render(request, "ask", status=503, error=str(exc))
        remember_request(request.session, PENDING_KEY, asked.request_id, subject.sub)
        return RedirectResponse(asked.url, status_code=303)

    async def consent_return(
        self,
        request: Request,
        subject: SignedIn,
        request_id: str = "",
        consent_id: str = "",
        error: str = "",
    ) -> Response:
        """Where the charter sends you back: keep the consent and read your details."""
        outcome = await take_return(
            self.node,
            request.session,
            PENDING_KEY,
            subject=subject.sub,
            entry=self.entry,
            request_id=request_id,
            consent_id=consent_id,
            error=error,
            now=datetime.now(UTC),
        )
        if outcome == "agreed":
            return RedirectResponse("/service/details", status_code=303)
        if outcome == "declined":
            return self.render(request, "declined")
        reason = "failed" if outcome == "malformed" else outcome
        return self.render(request, "return_problem", status=RETURN_STATUS[outcome], reason=reason)


def _purpose_wording(node: NodeRuntime, entry: ServiceEntry) -> str:
    document = node.keeper.document
    purpose = document.purpose(entry.purpose) if document is not None else None
    return purpose.wording if purpose is not None else ""


def _rows(node: NodeRuntime, held: HeldCopy) -> list[dict[str, Any]]:
    document = node.keeper.document
    types = {} if document is None else {f.name: f.type for f in document.fields}
    data = held.data or {}
    return [
        {"label": field_label(name), "lines": display_lines(types.get(name, ""), data.get(name))}
        for name in held.fields
    ]
