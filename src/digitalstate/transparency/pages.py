"""The operator's log page on every node: this node's log, the logs it witnesses, the alarms.

Like every operator page it answers only requests from a loopback address unless [web]
operator_remote is on (web/operator.py). Clearing an alarm is a POST form with the CSRF token.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.transparency.models import LogCosignature
from digitalstate.transparency.store import latest_checkpoint, pending_count, read_head
from digitalstate.transparency.witness_round import WatchState
from digitalstate.transparency.witness_service import (
    Alarm,
    clear_alarm,
    list_alarms,
    witnessed_logs,
)
from digitalstate.web.operator import operator_only
from digitalstate.web.session import require_csrf

LOG_PAGE = "/operator/log"
ALARMS_SHOWN = 200


@dataclass(frozen=True)
class Cosigner:
    """A witness's newest cosignature of this node's log."""

    witness: str
    size: int
    cosigned_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class OwnLog:
    """This node's log as the page shows it."""

    size: int
    root: str
    checkpoint_size: int | None
    checkpoint_at: datetime | None
    pending: int
    cosigners: list[Cosigner]


@dataclass(frozen=True)
class LogView:
    """Everything the page shows."""

    own: OwnLog
    witnessed: list[WatchState]
    alarms: list[Alarm]


def log_view(session: Session) -> LogView:
    """Read what the page shows, in one transaction."""
    head = read_head(session)
    newest = latest_checkpoint(session)
    own = OwnLog(
        size=head.size if head else 0,
        root=base64.b64encode(head.root).decode() if head else "",
        checkpoint_size=newest.size if newest else None,
        checkpoint_at=newest.signed_at if newest else None,
        pending=pending_count(session),
        cosigners=newest_cosignatures(session),
    )
    return LogView(own, witnessed_logs(session), list_alarms(session, ALARMS_SHOWN))


def newest_cosignatures(session: Session) -> list[Cosigner]:
    """Each witness's newest cosignature of this node's log, newest size first."""
    newest = (
        select(LogCosignature.witness, func.max(LogCosignature.size).label("size"))
        .group_by(LogCosignature.witness)
        .subquery()
    )
    rows = session.execute(
        select(LogCosignature)
        .join(
            newest,
            (LogCosignature.witness == newest.c.witness) & (LogCosignature.size == newest.c.size),
        )
        .order_by(LogCosignature.size.desc(), LogCosignature.witness)
    ).scalars()
    return [Cosigner(row.witness, row.size, row.cosigned_at, row.received_at) for row in rows]


def make_pages_router(node: NodeRuntime, templates: Jinja2Templates) -> APIRouter:
    """The operator's log page and its clear-alarm buttons."""
    router = Router(
        include_in_schema=False,
        dependencies=[Depends(operator_only(node.settings))],
    )

    def read(work: Any, *args: Any) -> Any:
        with node.sessions.begin() as session:
            return work(session, *args)

    @router.get(LOG_PAGE, response_class=HTMLResponse)
    async def log_page(request: Request, cleared: int | None = None) -> Response:
        """This node's log, the logs it witnesses and the alarms raised about them."""
        view: LogView = await run_blocking(read, log_view)
        document = node.keeper.document
        names = {} if document is None else {m.id: m.name for m in document.members}
        return templates.TemplateResponse(
            request,
            "transparency/log.html",
            {
                "node": node.settings.node,
                "view": view,
                "names": names,
                "open_alarms": sum(1 for a in view.alarms if a.cleared_at is None),
                "cleared": cleared,
                "remote": node.settings.web.operator_remote,
                "settings": node.settings.log,
                "alarms_shown": ALARMS_SHOWN,
            },
        )

    @router.post(LOG_PAGE + "/alarms/{alarm_id}/clear", dependencies=[Depends(require_csrf)])
    async def clear(alarm_id: int) -> Response:
        """Mark an alarm as dealt with (it is raised again if the witness finds it again)."""
        now = datetime.now(UTC)
        done: bool = await run_blocking(read, clear_alarm, alarm_id, now)
        return RedirectResponse(f"{LOG_PAGE}?cleared={alarm_id if done else 0}", status_code=303)

    return router
