"""The operator's email page on a node: the outbox (queued, retrying, failed, sent) and a test.

Behind the operator credential like every operator page (web/operator.py): loopback only
unless [web] operator_remote, and the operator token or its sign-in cookie.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.mail.domain import ADDRESS_MESSAGE, InvalidEmailError
from digitalstate.mail.service import (
    EMAIL_STATES,
    EmailState,
    OutboxEntry,
    count_outbox,
    list_outbox,
    queue_email,
)
from digitalstate.mail.smtp import SmtpConfig
from digitalstate.mail.worker import EMAIL_EVENT
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.retrying import run_step
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.operator import operator_only
from digitalstate.web.session import require_csrf

EMAIL_PAGE = "/operator/email"
SHOWN_PER_STATE = 100
TEST_SUBJECT = "Test message from {name}"
TEST_BODY = (
    "This is a test message from {name} ({id}), sent from its operator page to check that "
    "it can send email.\n\nYou need not do anything.\n"
)

TITLES: dict[EmailState, str] = {
    "failed": "Failed",
    "retrying": "Retrying",
    "queued": "Waiting to be sent",
    "sent": "Sent",
}


def make_pages_router(
    node: NodeRuntime, templates: Jinja2Templates, config: SmtpConfig
) -> APIRouter:
    """GET /operator/email and POST /operator/email/test."""

    router = Router(include_in_schema=False, dependencies=[Depends(operator_only(node.settings))])

    def page(
        request: Request,
        view: tuple[dict[EmailState, list[OutboxEntry]], dict[EmailState, int]],
        *,
        queued: int | None = None,
        to: str = "",
        error: str = "",
        status: int = 200,
    ) -> Response:
        entries, counts = view
        return templates.TemplateResponse(
            request,
            "mail/outbox.html",
            {
                "node": node.settings.node,
                "config": config,
                "counts": counts,
                "groups": _groups(entries),
                "shown_per_state": SHOWN_PER_STATE,
                "queued": queued,
                "to": to,
                "error": error,
                "remote": node.settings.web.operator_remote,
            },
            status_code=status,
        )

    @router.get(EMAIL_PAGE, response_class=HTMLResponse)
    async def email_page(request: Request, queued: int | None = None) -> Response:
        """The outbox, newest first in each state, and the test form."""
        return page(request, await run_step(node.sessions, _view), queued=queued)

    @router.post(EMAIL_PAGE + "/test", dependencies=[Depends(require_csrf)])
    async def send_test(request: Request) -> Response:
        """Queue a test message to the address given, and wake the worker."""
        to = form_text(await read_form(request), "to").strip()
        now = datetime.now(UTC)
        settings = node.settings.node
        try:
            queued = await run_step(
                node.sessions,
                lambda s: queue_email(
                    s,
                    to,
                    TEST_SUBJECT.format(name=settings.name),
                    TEST_BODY.format(name=settings.name, id=settings.id),
                    key=f"operator-test:{uuid.uuid4()}",
                    now=now,
                ),
            )
        except InvalidEmailError:
            message = ADDRESS_MESSAGE if to else "Enter the email address to send a test message to"
            view = await run_step(node.sessions, _view)
            return page(request, view, to=to[:320], error=message, status=400)
        node.wake(EMAIL_EVENT)
        return RedirectResponse(f"{EMAIL_PAGE}?queued={queued.id}", status_code=303)

    return router


def _view(session: Session) -> tuple[dict[EmailState, list[OutboxEntry]], dict[EmailState, int]]:
    entries = {state: list_outbox(session, state, limit=SHOWN_PER_STATE) for state in EMAIL_STATES}
    return entries, count_outbox(session)


def _groups(entries: dict[EmailState, list[OutboxEntry]]) -> list[dict[str, Any]]:
    order: tuple[EmailState, ...] = ("failed", "retrying", "queued", "sent")
    return [{"state": state, "title": TITLES[state], "rows": entries[state]} for state in order]
