"""A read-only step sees the database at one moment, though a writer commits meanwhile."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from digitalstate.exchange.models import ExchangeNonceRow
from digitalstate.storage.engine import make_sessions
from digitalstate.storage.retrying import run_step


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ExchangeNonceRow)) or 0


def two_reads_with_a_commit_between(engine: Engine, *, read_only: bool) -> tuple[int, int]:
    """Count the rows, let another connection add one and commit, count again: in one step."""

    def step(session: Session) -> tuple[int, int]:
        first = count(session)
        with engine.begin() as other:  # another connection: a worker elsewhere
            other.execute(
                insert(ExchangeNonceRow).values(keyid="k", nonce=uuid.uuid4().hex, expires_at=1)
            )
        return first, count(session)

    return asyncio.run(run_step(make_sessions(engine), step, read_only=read_only))


def test_a_read_only_step_sees_one_moment_where_a_plain_one_sees_two(engine: Engine) -> None:
    # Without it the second read sees the other's row (the reason read_only exists)...
    assert two_reads_with_a_commit_between(engine, read_only=False) == (0, 1)
    # ...with it, the step's reads agree; the row is there for the next step.
    assert two_reads_with_a_commit_between(engine, read_only=True) == (1, 1)
    assert asyncio.run(run_step(make_sessions(engine), count, read_only=True)) == 2


def test_a_read_only_step_writes_nothing_and_the_next_step_writes(engine: Engine) -> None:
    def write(session: Session) -> None:
        session.execute(insert(ExchangeNonceRow).values(keyid="k", nonce="n", expires_at=1))

    # PostgreSQL: "read-only transaction"; SQLite: "attempt to write a readonly database".
    with pytest.raises(DBAPIError, match=r"read-only transaction|readonly database"):
        asyncio.run(run_step(make_sessions(engine), write, read_only=True))
    assert asyncio.run(run_step(make_sessions(engine), count)) == 0
    # The pool's connection is as it was: the next step writes.
    asyncio.run(run_step(make_sessions(engine), write))
    assert asyncio.run(run_step(make_sessions(engine), count)) == 1
