"""A service node's exchange route for change notices: take each once, then re-read."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.retrying import run_step
from digitalstate.tellusonce.rereads import NOTICES_EVENT
from digitalstate.tellusonce.schemas import NoticeBody
from digitalstate.tellusonce.service import Notice, receive_notice


def make_api_router(node: NodeRuntime) -> APIRouter:
    """The route a register calls to say that facts a consent covers have changed."""
    router = Router(prefix="/exchange/v1", tags=["tellusonce"])

    @router.post("/notices", status_code=202)
    async def take_notice(body: NoticeBody, request: Request) -> JSONResponse:
        """Take a register's change notice once (a duplicate changes nothing), then re-read."""
        caller: str = request.scope["state"]["exchange_member"]
        notice = Notice(
            consent_id=body.consent_id,
            holder=body.holder,
            fields=list(body.fields),
            version=body.version,
            idempotency_key=body.idempotency_key,
        )
        now = datetime.now(UTC)
        try:
            new = await run_step(node.sessions, lambda s: receive_notice(s, notice, caller, now))
        except IntegrityError:
            new = False  # the same notice, taken at the same moment by another worker
        if not new:
            return JSONResponse({"status": "duplicate"}, status_code=200)
        # The re-read runs in the node's re-read worker, which also picks up, after a restart,
        # any notice taken here whose re-read had not finished.
        node.wake(NOTICES_EVENT)
        return JSONResponse({"status": "accepted"}, status_code=202)

    return router
