"""A witnessed log in a database: a member's log read straight from its store, one witness
round over it, and the alarms kept (shared by the witness's integration and security tests).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import log_origin
from digitalstate.transparency.leaves import leaf_hashes
from digitalstate.transparency.merkle import ProofError
from digitalstate.transparency.models import LogAlarm
from digitalstate.transparency.rolling_audit import SourceDamagedError, SourceUnavailableError
from digitalstate.transparency.sequencer import Sequencer
from digitalstate.transparency.store import (
    LogDamagedError,
    consistency_proof,
    latest_checkpoint,
    record_access,
)
from digitalstate.transparency.verify import LogIdentity
from digitalstate.transparency.witness_round import Round, witness_round
from digitalstate.transparency.witness_service import list_alarms, load_state, save_round

MEMBER = "people-register"
ORIGIN = log_origin("integration federation", MEMBER)
KEY = KeyPair.from_seed(bytes(range(7, 39)))
IDENTITY = LogIdentity(MEMBER, ORIGIN, (KEY.public,))
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALARM_AFTER = 30.0


class StoreSource:
    """A member's log read straight from its store, failing as its public routes fail."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.down = False
        self.grow_after_checkpoint = 0  # entries the log integrates right after serving it

    async def checkpoint(self) -> str:
        if self.down:
            raise SourceUnavailableError("connection refused")
        with self.engine.connect() as db:
            found = latest_checkpoint(db)
        assert found is not None
        if self.grow_after_checkpoint:
            append(self.engine, self.grow_after_checkpoint)
        return found.render()

    async def consistency(self, old: int, new: int) -> list[bytes]:
        with self.engine.connect() as db:
            try:
                return consistency_proof(db, old, new)
            except (ProofError, LogDamagedError) as exc:
                raise SourceDamagedError(str(exc)) from exc

    async def leaves(self, start: int, end: int) -> list[bytes]:
        with self.engine.connect() as db:
            try:
                return leaf_hashes(db, start, end)
            except (ProofError, LogDamagedError) as exc:
                raise SourceDamagedError(str(exc)) from exc


def append(engine: Engine, count: int) -> None:
    with engine.begin() as db:
        for i in range(count):
            record_access(
                db,
                holder=MEMBER,
                pseudonym=f"p{i % 3}",
                requester="liverpool-pensions",
                action="read",
                outcome="allowed",
                now=T0,
                purpose="pension-administration",
                fields=["people.address"],
            )
    Sequencer(engine, ORIGIN, KEY, batch_size=7).drain()


def witness(
    engine: Engine, sessions: sessionmaker[Session], source: StoreSource, now: datetime
) -> Round:
    """One round: load the state, run it, keep it and its alarms."""
    with sessions.begin() as session:
        state = load_state(session, MEMBER, ORIGIN)
    result = asyncio.run(
        witness_round(state, IDENTITY, source, now, audit_leaves=1000, alarm_after=ALARM_AFTER)
    )
    with sessions.begin() as session:
        save_round(session, result, now)
    return result


def open_alarms(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions.begin() as session:
        return [(a.member, a.kind) for a in list_alarms(session) if a.cleared_at is None]


def alarm_count(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(LogAlarm)) or 0)


def witnessed_log(engine: Engine, sessions: sessionmaker[Session]) -> StoreSource:
    """A log of 20 entries, witnessed once: verified and audited whole."""
    append(engine, 20)
    source = StoreSource(engine)
    first = witness(engine, sessions, source, T0)
    assert first.findings == () and first.state.audited_size == 20
    return source
