"""A register's exchange routes: consented and basis reads, and basis matches (yes or no)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from starlette.responses import Response

from digitalstate.exchange.legal_ground import (
    BASIS_HEADER,
    CONSENT_HEADER,
    PURPOSE_HEADER,
    Ground,
    ground_of,
    personal_data,
)
from digitalstate.exchange.server import DirectCall, DirectCalls
from digitalstate.federation.domain import FederationDocument
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.registers.reads import (
    MatchAnswer,
    ReadAnswer,
    ReadOutcome,
    ReadRefusal,
    Recorded,
    match_under_basis,
    read_under_basis,
    read_under_consent,
)
from digitalstate.registers.schemas import MatchBody, ReadBody
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.transparency.appender import LogAppender

T = TypeVar("T")
DEFAULT_THREADS = 10
READ_PATH = "/exchange/v1/records/read"
GROUND_HEADERS = frozenset({PURPOSE_HEADER, CONSENT_HEADER, BASIS_HEADER})


class HeldFieldNames:
    """The names of the fields this register holds, worked out once per federation document."""

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        self._document: FederationDocument | None = None
        self._names: frozenset[str] = frozenset()

    def __call__(self, federation: FederationDocument) -> frozenset[str]:
        """The held field names under federation."""
        if federation is not self._document:
            self._names = frozenset(f.name for f in federation.fields if f.holder == self.member_id)
            self._document = federation
        return self._names


def require_role(federation: FederationDocument, member_id: str, role: str) -> None:
    """Refuse the call (403 caller-not-allowed) unless member_id has role in the federation."""
    member = federation.member(member_id)
    if member is None or role not in member.roles:
        raise Problem(
            "caller-not-allowed", f"only a member with the role {role} may make this call"
        )


class DatabaseCalls:
    """Run the read path on the event loop (SQLite) or in worker threads (other databases).

    An embedded SQLite read by primary key takes tens of microseconds: on the loop, a read
    skips two thread hops. It writes nothing there: its log entry is committed with the other
    reads' by the LogAppender, in a worker thread, so the loop never waits for SQLite's write
    lock or a disk flush. A database over the network is waited for in worker threads, so
    that the loop goes on serving, at most as many at once as the connection pool keeps open
    (more would open and close a connection per call). See docs/benchmarks.md.
    """

    def __init__(self, engine: Engine) -> None:
        self.inline = engine.dialect.name == "sqlite"
        pool = engine.pool
        size = pool.size() if isinstance(pool, QueuePool) else DEFAULT_THREADS
        self.limiter = anyio.CapacityLimiter(max(1, size))

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """func(*args), inline or in a worker thread."""
        if self.inline:
            return func(*args)
        return await run_blocking(func, *args, limiter=self.limiter)


def make_api_router(node: NodeRuntime, direct: DirectCalls | None = None) -> APIRouter:
    """The register's exchange routes, bound to node; the read also as a direct call in
    direct, when given (exchange/server.py: answered without the app's routing)."""
    router = Router(prefix="/exchange/v1", tags=["registers"])
    held = HeldFieldNames(node.settings.node.id)

    calls = DatabaseCalls(node.engine)
    # Every read's entry is durable before its answer leaves; the reads that arrive together
    # share one commit (transparency/appender.py).
    appender = LogAppender(node.engine)

    async def answer_read(federation: FederationDocument, body: ReadBody, ground: Ground) -> bytes:
        outcome, entry = await calls.run(_read, node, federation, held(federation), body, ground)
        if entry is not None:
            await appender.append(entry)
        if not isinstance(outcome, ReadAnswer):
            raise Problem(outcome.slug, outcome.reason)
        return json.dumps({"fields": outcome.fields, "version": outcome.version}).encode()

    @router.post("/records/read")
    async def read_record(body: ReadBody, ground: Ground = personal_data) -> Response:
        """Read fields of a person's record under a consent or a statutory basis."""
        answer = await answer_read(node.keeper.current(), body, ground)
        return Response(answer, media_type="application/json")

    async def direct_read(call: DirectCall) -> bytes | None:
        """The read as a direct call: the same checks and answer as read_record, the body read
        by the model alone. Anything unusual (another content type, a body the model refuses,
        a ground header sent twice) is declined, and answered by read_record."""
        headers = call.headers
        if headers.get("content-type") != "application/json" or call.repeated & GROUND_HEADERS:
            return None
        try:
            body = ReadBody.model_validate_json(call.body)
        except ValidationError:
            return None
        federation = node.keeper.current()
        ground = ground_of(
            call.member_id,
            headers.get(PURPOSE_HEADER),
            headers.get(CONSENT_HEADER),
            headers.get(BASIS_HEADER),
            federation,
        )
        return await answer_read(federation, body, ground)

    if direct is not None:
        direct[("POST", READ_PATH)] = direct_read

    @router.post("/records/match")
    async def match_record(body: MatchBody, ground: Ground = personal_data) -> Response:
        """Say whether values are the person's, under a statutory basis: matched or not, and
        never a value of the record."""
        federation = node.keeper.current()
        outcome, entry = await calls.run(_match, node, federation, held(federation), body, ground)
        if entry is not None:
            await appender.append(entry)
        if not isinstance(outcome, MatchAnswer):
            raise Problem(outcome.slug, outcome.reason)
        return Response(json.dumps({"matched": outcome.matched}), media_type="application/json")

    return router


def _match(
    node: NodeRuntime,
    federation: FederationDocument,
    held: frozenset[str],
    body: MatchBody,
    ground: Ground,
) -> Recorded[MatchAnswer | ReadRefusal]:
    if ground.basis_id is None or ground.consent_id is not None:
        raise Problem(
            "malformed-request", "a match is made under a statutory basis only, not a consent"
        )
    with node.engine.connect() as connection:
        return match_under_basis(
            connection,
            federation=federation,
            caller=ground.requester,
            basis_id=ground.basis_id,
            purpose=ground.purpose,
            subject=body.subject,
            on_behalf_of=body.on_behalf_of,
            values=body.values,
            held=held,
            now=datetime.now(UTC),
            holder=node.settings.node.id,
        )


def _read(
    node: NodeRuntime,
    federation: FederationDocument,
    held: frozenset[str],
    body: ReadBody,
    ground: Ground,
) -> Recorded[ReadOutcome]:
    now = datetime.now(UTC)
    fields = tuple(body.fields)
    if ground.consent_id is not None and ground.basis_id is not None:
        raise Problem("malformed-request", "name a consent or a statutory basis, not both")
    if ground.consent_id is not None:
        if body.subject is not None or body.on_behalf_of is not None:
            raise Problem(
                "malformed-request",
                "a read under a consent names no subject or on_behalf_of: the consent does",
            )
        with node.engine.connect() as connection:
            return read_under_consent(
                connection,
                consent_id=ground.consent_id,
                requester=ground.requester,
                purpose=ground.purpose,
                fields=fields,
                held=held,
                now=now,
                holder=node.settings.node.id,
                check_timer=node.check_timer,
            )
    assert ground.basis_id is not None  # personal_data guarantees one of the two
    with node.engine.connect() as connection:
        return read_under_basis(
            connection,
            federation=federation,
            caller=ground.requester,
            basis_id=ground.basis_id,
            purpose=ground.purpose,
            subject=body.subject,
            on_behalf_of=body.on_behalf_of,
            fields=fields,
            held=held,
            now=now,
            holder=node.settings.node.id,
        )
