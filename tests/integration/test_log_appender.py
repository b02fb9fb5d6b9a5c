"""Appends that share commits (transparency/appender.py), on SQLite and PostgreSQL.

The register answers a read only once the read's log entry is committed; the reads that
arrive together share one commit. Checked here on the real database: every append that
returned is in the log, many appends took few commits, and a commit that fails fails every
append waiting on it and leaves none of their entries behind.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event

from digitalstate.transparency.appender import LogAppender
from digitalstate.transparency.entries import LogEntry, make_entry
from digitalstate.transparency.store import entries_for

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
PERSON = "p0000000000000000000000000000001"


def reads(count: int, reason: str) -> list[LogEntry]:
    return [
        make_entry(
            holder="people-register",
            pseudonym=PERSON,
            requester="newcastle-tax",
            action="read",
            outcome="allowed",
            now=NOW,
            purpose="electoral-registration",
            consent_id=f"c{n}",
            fields=("people.address",),
            reason=f"{reason} {n}",
        )
        for n in range(count)
    ]


def stored(engine: Engine) -> set[bytes]:
    with engine.connect() as db:
        return {entry.body for entry in entries_for(db, PERSON)}


def count_commits(engine: Engine) -> list[int]:
    commits = [0]

    @event.listens_for(engine, "commit")
    def counted(_connection: Any) -> None:
        commits[0] += 1

    return commits


def test_appends_that_arrive_together_share_commits(engine: Engine) -> None:
    appender = LogAppender(engine)
    commits = count_commits(engine)
    entries = reads(200, "together")

    async def append_all() -> None:
        await asyncio.gather(*(appender.append(entry) for entry in entries))

    asyncio.run(append_all())
    assert stored(engine) == {entry.encode() for entry in entries}
    # The first append's commit starts alone; the other 199 wait for the next one or two.
    assert 1 <= commits[0] <= 3


def test_a_failed_commit_fails_every_append_waiting_on_it_and_keeps_none(engine: Engine) -> None:
    appender = LogAppender(engine)
    failing = [True]

    @event.listens_for(engine, "before_cursor_execute")
    def fail_log_inserts(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if failing[0] and statement.startswith("INSERT INTO log_entries"):
            raise RuntimeError("the disk is full")

    refused = reads(40, "refused")
    later = reads(1, "later")

    async def append_all() -> list[BaseException | None]:
        return await asyncio.gather(
            *(appender.append(entry) for entry in refused), return_exceptions=True
        )

    outcomes = asyncio.run(append_all())
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert stored(engine) == set()
    failing[0] = False
    asyncio.run(appender.append(later[0]))  # the appender goes on after a failed batch
    assert stored(engine) == {later[0].encode()}


@pytest.mark.parametrize("count", [1, 1001])
def test_every_append_that_returned_is_committed(engine: Engine, count: int) -> None:
    """One alone, and more than one batch holds (MAX_BATCH is 1000)."""
    appender = LogAppender(engine)
    entries = reads(count, "returned")

    async def append_all() -> None:
        await asyncio.gather(*(appender.append(entry) for entry in entries))

    asyncio.run(append_all())
    assert stored(engine) == {entry.encode() for entry in entries}
