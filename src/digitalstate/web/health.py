"""Liveness and readiness, the same on every node and on the trust anchor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from digitalstate.routing import Router
from digitalstate.storage.migrate import current_revision, head_revision


def database_check(engine: Engine) -> dict[str, Any]:
    """Whether the database answers and is at the newest schema revision."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except Exception as exc:  # any driver error means not ready; say which
        return {"ok": False, "detail": f"database unreachable: {type(exc).__name__}: {exc}"}
    head = head_revision()
    if revision != head:
        return {"ok": False, "detail": f"schema at {revision}, expected {head}; run 'db upgrade'"}
    return {"ok": True, "detail": f"schema at {revision}"}


def make_health_router(
    checks: Callable[[], dict[str, dict[str, Any]]],
    worker: Callable[[], dict[str, Any]] | None = None,
) -> APIRouter:
    """/healthz (alive) and /readyz (every check passes) for an app.

    worker, when given, says which worker process answered and the roles it holds (a node's
    node/roles.py); /readyz shows it under "worker", whatever the checks say.
    """
    router = Router(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Answer 200 while the process is alive; no authentication."""
        return {"status": "alive"}

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        """Answer 200 when the database is reachable and the federation document fresh."""
        results = checks()
        ready = all(r["ok"] for r in results.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": results}
        if worker is not None:
            body["worker"] = worker()
        return JSONResponse(body, status_code=200 if ready else 503)

    return router
