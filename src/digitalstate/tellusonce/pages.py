"""The operator's outbox page on a register node: notices waiting, failing and dead-lettered.

Operator pages have no sign-in of their own: they answer only requests from a loopback
address unless [web] operator_remote is on (web/operator.py, docs/configuration.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.retrying import run_step
from digitalstate.tellusonce.service import (
    OutboxEntry,
    OutboxState,
    count_outbox,
    list_outbox,
    retry_dead,
    retry_notices,
)
from digitalstate.tellusonce.worker import OUTBOX_EVENT
from digitalstate.web.i18n import N_
from digitalstate.web.operator import operator_only
from digitalstate.web.session import require_csrf

OUTBOX_PAGE = "/operator/outbox"
SHOWN_PER_STATE = 200


def make_pages_router(node: NodeRuntime, templates: Jinja2Templates) -> APIRouter:
    """The operator's outbox page and its retry buttons."""

    require_operator = operator_only(node.settings)
    router = Router(include_in_schema=False, dependencies=[Depends(require_operator)])

    @router.get(OUTBOX_PAGE, response_class=HTMLResponse)
    async def outbox_page(request: Request, retried: int | None = None) -> Response:
        """The notices not yet delivered: waiting, failing and dead-lettered."""
        entries, counts = await run_step(node.sessions, _outbox_view)
        return templates.TemplateResponse(
            request,
            "tellusonce/outbox.html",
            {
                "node": node.settings.node,
                "counts": counts,
                "groups": _groups(entries, _member_names(node)),
                "retried": retried,
                "shown_per_state": SHOWN_PER_STATE,
                "remote": node.settings.web.operator_remote,
                "dead_after_hours": node.settings.tellusonce.dead_after_hours,
            },
        )

    @router.post(OUTBOX_PAGE + "/retry-dead", dependencies=[Depends(require_csrf)])
    async def retry_all_dead(request: Request) -> Response:
        """Try every dead-lettered notice again now."""
        now = datetime.now(UTC)
        ids = await run_step(node.sessions, lambda s: retry_dead(s, now))
        node.wake(OUTBOX_EVENT)
        return RedirectResponse(f"{OUTBOX_PAGE}?retried={len(ids)}", status_code=303)

    @router.post(OUTBOX_PAGE + "/{message_id}/retry", dependencies=[Depends(require_csrf)])
    async def retry_one(message_id: int) -> Response:
        """Try one undelivered notice again now, with a fresh count of tries."""
        now = datetime.now(UTC)
        ids = await run_step(node.sessions, lambda s: retry_notices(s, [message_id], now))
        node.wake(OUTBOX_EVENT)
        return RedirectResponse(f"{OUTBOX_PAGE}?retried={len(ids)}", status_code=303)

    return router


STATES: tuple[tuple[OutboxState, str], ...] = (
    ("dead", N_("Dead-lettered")),
    ("failing", N_("Failing")),
    ("pending", N_("Waiting to be sent")),
)


OutboxView = tuple[dict[OutboxState, list[OutboxEntry]], dict[OutboxState, int]]


def _outbox_view(session: Session) -> OutboxView:
    entries = {
        state: list_outbox(session, state=state, limit=SHOWN_PER_STATE) for state, _ in STATES
    }
    return entries, count_outbox(session)


def _member_names(node: NodeRuntime) -> dict[str, str]:
    document = node.keeper.document
    return {} if document is None else {m.id: m.name for m in document.members}


def _groups(
    entries: dict[OutboxState, list[OutboxEntry]], names: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        {
            "state": state,
            "title": title,
            "rows": [
                {"entry": e, "requester_name": names.get(e.requester, "")} for e in entries[state]
            ],
        }
        for state, title in STATES
    ]
