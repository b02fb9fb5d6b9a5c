"""Bench-only unsigned routes of a node, mounted under /bench/unsigned on loopback nodes only.

They exist so that a benchmark can compare the signed path with the same work done bare, and
look inside a node while it runs. Mounted only by the benchmarks' own app factory
(benchmarks/app.py), which refuses unless the node listens on a loopback address; the
production factory (app.py) never mounts them.

- GET /services: the exchange's service list, unsigned (`bench exchange`).
- GET /records/{pseudonym}?fields=a,b: the register's record read, the same query as a
  consented read, without signature, consent check or access record (`bench consent`).
- GET /timings, POST /timings/reset: the consent checks timed inside this node (the register's
  reads tell them to NodeRuntime.check_timer, which only this module sets).
- POST /change: change a record through the register's own change function, then wake the
  outbox; GET /told/{pseudonym}/{version}: when each service was told of it.
"""

from __future__ import annotations

import json
from collections import deque
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel
from starlette.responses import Response

from digitalstate.benchmarks.load import percentile
from digitalstate.exchange.api import list_services
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.registers import reads
from digitalstate.registers.api import DatabaseCalls
from digitalstate.registers.service import change_fields, told_about
from digitalstate.routing import Router, install_routes
from digitalstate.storage.threads import run_blocking
from digitalstate.tellusonce.worker import OUTBOX_EVENT

PREFIX = "/bench/unsigned"
# Check durations kept at most (the newest): enough for minutes of reads at full speed.
TIMINGS_KEPT = 2_000_000


class ChangeBody(BaseModel):
    """A change to make to one record, as the register's change function takes it."""

    pseudonym: str
    changes: dict[str, Any]


def install_bench_mirror(app: FastAPI, node: NodeRuntime) -> None:
    """Mount the bench-only unsigned routes on app, and time node's consent checks."""
    # Included like the exchange's router, so that routing costs the same and the benchmark
    # compares signing alone.
    mirror = Router(prefix=PREFIX, include_in_schema=False)
    mirror.add_api_route("/services", list_services, methods=["GET"])
    if "register" in node.settings.node.roles:
        durations: deque[float] = deque(maxlen=TIMINGS_KEPT)
        node.check_timer = durations.append
        _add_register_routes(mirror, node, durations)
        _add_change_routes(mirror, node)
    install_routes(app, mirror)


def _add_register_routes(mirror: APIRouter, node: NodeRuntime, durations: deque[float]) -> None:
    calls = DatabaseCalls(node.engine)

    def read(pseudonym: str, names: list[str]) -> reads.ReadAnswer | None:
        with node.engine.begin() as connection:
            return reads.record_fields(connection, pseudonym, names)

    @mirror.get("/records/{pseudonym}")
    async def bare_read(pseudonym: str, fields: str = Query(...)) -> Response:
        """The record read of a consented read, alone: same transaction, same query, run alike."""
        answer = await calls.run(read, pseudonym, fields.split(","))
        if answer is None:
            raise Problem("record-not-found", "this register holds no record of the person")
        payload = {"fields": answer.fields, "version": answer.version}
        return Response(json.dumps(payload), media_type="application/json")

    @mirror.get("/timings")
    def timings() -> dict[str, Any]:
        """How long the consent checks took in this node since the last reset."""
        timed = sorted(durations)
        return {
            "count": len(timed),
            "p50_ms": round(percentile(timed, 0.50) * 1000, 4) if timed else None,
            "p99_ms": round(percentile(timed, 0.99) * 1000, 4) if timed else None,
            "max_ms": round(timed[-1] * 1000, 4) if timed else None,
        }

    @mirror.post("/timings/reset")
    def reset_timings() -> dict[str, int]:
        """Forget the consent checks timed so far."""
        durations.clear()
        return {"count": 0}


def _add_change_routes(mirror: APIRouter, node: NodeRuntime) -> None:
    @mirror.post("/change")
    async def change(body: ChangeBody) -> dict[str, Any]:
        """Change a record as the register does, commit, wake the outbox; say when it committed."""

        def commit() -> tuple[int, datetime]:
            with node.sessions.begin() as session:
                version = change_fields(
                    session,
                    pseudonym=body.pseudonym,
                    changes=body.changes,
                    now=datetime.now(UTC),
                    catalogue=node.keeper.current().fields,
                )
            return version, datetime.now(UTC)

        version, committed_at = await run_blocking(commit)
        node.wake(OUTBOX_EVENT)
        return {"version": version, "committed_at": committed_at.isoformat()}

    @mirror.get("/told/{pseudonym}/{version}")
    def told(pseudonym: str, version: int) -> dict[str, Any]:
        """Each service told of a change to version, and when it took the notice."""
        with node.sessions.begin() as session:
            rows = told_about(session, pseudonym, version)
        return {
            "told": [
                {
                    "requester": row.requester,
                    "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
                }
                for row in rows
            ]
        }
