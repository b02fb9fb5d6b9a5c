"""Database steps for background work: one short transaction each, retried while busy.

A worker must not lose what was committed nor stop on a transient lock: SQLite answers
"database is locked" when another process holds the write lock past busy_timeout, and
PostgreSQL can abort a transaction on a deadlock or a serialization failure. Such a step is
rolled back whole and run again after a short, growing sleep; anything else is raised.

A step that only reads can ask for one moment of the database (read_only=True): every
statement in it sees the same committed state, though writers commit meanwhile. Without it a
step's statements may each see a different moment: PostgreSQL's READ COMMITTED takes a new
snapshot per statement, and Python's sqlite3 opens no transaction before a SELECT, so each
read of SQLite runs on its own.

It lives with storage, not with a feature, because several features use it (tellusonce's
workers, the services' pages and use cases) and must not import each other for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.storage.engine import is_busy
from digitalstate.storage.threads import run_blocking

__all__ = ["STEP_ATTEMPTS", "is_busy", "run_step"]

log = logging.getLogger(__name__)

T = TypeVar("T")

STEP_ATTEMPTS = 8
FIRST_SLEEP_SECONDS = 0.05


# PostgreSQL: one snapshot for the whole transaction, which may not write.
_ONE_MOMENT = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


def _in_transaction(
    sessions: sessionmaker[Session], step: Callable[[Session], T], read_only: bool = False
) -> T:
    with sessions.begin() as session:
        if not read_only:
            return step(session)
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options=_ONE_MOMENT)
            return step(session)
        # SQLite: a transaction begun before the first read holds one snapshot; query_only
        # refuses writes for the step, and is lifted before the connection goes back to the
        # pool (a connection it cannot be lifted on is not used again).
        connection = session.connection()
        connection.exec_driver_sql("BEGIN")
        connection.exec_driver_sql("PRAGMA query_only = 1")
        try:
            return step(session)
        finally:
            try:
                connection.exec_driver_sql("PRAGMA query_only = 0")
            except Exception:
                connection.invalidate()


async def run_step(
    sessions: sessionmaker[Session],
    step: Callable[[Session], T],
    *,
    attempts: int = STEP_ATTEMPTS,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    read_only: bool = False,
) -> T:
    """Run step(session) in its own transaction in a thread; retry it while the database is busy.

    read_only: step only reads, and every statement of it sees the database at one moment (the
    module's docstring); a write in it is refused (PostgreSQL: a read-only transaction;
    SQLite: PRAGMA query_only), an error raised at once, never retried.
    """
    for attempt in range(attempts):
        try:
            return await run_blocking(_in_transaction, sessions, step, read_only)
        except OperationalError as exc:
            if not is_busy(exc) or attempt == attempts - 1:
                raise
            delay = FIRST_SLEEP_SECONDS * 2**attempt
            log.info("database busy (%s); trying the step again in %.2f s", exc.orig, delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
