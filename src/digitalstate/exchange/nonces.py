"""The node's replay store: accepted nonces in its database, written in shared commits.

Correctness comes from the database, not from a process: a nonce written here is refused by
every worker of the node and after a restart (ADR 0013). The primary key (key id, nonce) makes
the INSERT itself the check: a row that conflicts is a replay.

A commit per request would cost a disk flush per call on SQLite (synchronous=FULL) and a WAL
flush on PostgreSQL. So requests that arrive while a commit is under way wait for the next one
together: one INSERT of many rows, one commit, each request told whether its row went in.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine, Executable, delete
from sqlalchemy.exc import OperationalError

from digitalstate.exchange.models import ExchangeNonceRow
from digitalstate.storage.engine import dialect_insert, is_busy
from digitalstate.storage.threads import run_blocking

log = logging.getLogger(__name__)

MAX_BATCH = 500
"""Rows per INSERT: three bound values each, well under SQLite's limit of 32,766."""

BUSY_ATTEMPTS = 2
"""Tries of one batch while the database is busy: a second wait of busy_timeout, no more,
since a caller times out after 10 s."""

Item = tuple[str, str, int]


@dataclass(eq=False)
class _Waiting:
    item: Item
    answer: asyncio.Future[bool]


@dataclass(eq=False)
class SqlNonceStore:
    """Remembers accepted (key id, nonce) pairs in the node's database until they expire."""

    engine: Engine
    _queue: list[_Waiting] = field(default_factory=list)
    _writer: asyncio.Task[None] | None = None
    _insert: Executable = field(init=False)

    def __post_init__(self) -> None:
        # One statement, compiled once; many rows go through SQLAlchemy's "insertmanyvalues"
        # (a multi-row INSERT ... RETURNING on both SQLite and PostgreSQL).
        table = ExchangeNonceRow.__table__
        insert = dialect_insert(self.engine.dialect.name)
        self._insert = (
            insert(table).on_conflict_do_nothing().returning(table.c.keyid, table.c.nonce)
        )

    async def remember(self, keyid: str, nonce: str, expires_at: int) -> bool:
        """True when (keyid, nonce) was not seen before and is now stored; False on a replay."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting((keyid, nonce, expires_at), answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued())
        return await answer

    async def _write_queued(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    stored = await self._insert_retrying([w.item for w in batch])
                except Exception as exc:  # every waiting request fails; none is let through
                    log.exception("could not store %d nonces", len(batch))
                    for waiting in batch:
                        if not waiting.answer.done():
                            waiting.answer.set_exception(exc)
                    continue
                for waiting in batch:
                    pair = waiting.item[:2]
                    # Only the first of two equal pairs in one batch is new; discard marks it.
                    new = pair in stored
                    stored.discard(pair)
                    if not waiting.answer.done():
                        waiting.answer.set_result(new)
        finally:
            self._writer = None

    async def _insert_retrying(self, items: list[Item]) -> set[tuple[str, str]]:
        # Another writer may hold SQLite's lock past busy_timeout (5 s); try once more before
        # failing the waiting requests, as the node's other writes do (storage/retrying.py).
        for attempt in range(BUSY_ATTEMPTS):
            try:
                return await run_blocking(self.insert_new, items)
            except OperationalError as exc:
                if not is_busy(exc) or attempt == BUSY_ATTEMPTS - 1:
                    raise
                log.warning("database busy storing %d nonces; trying again", len(items))
        raise AssertionError("unreachable")

    def insert_new(self, items: list[Item]) -> set[tuple[str, str]]:
        """Insert the rows not already present in one transaction; return the pairs inserted."""
        rows: dict[tuple[str, str], int] = {}
        for keyid, nonce, expires_at in items:
            rows.setdefault((keyid, nonce), expires_at)  # a repeat within the batch is a replay
        values = [{"keyid": k, "nonce": n, "expires_at": e} for (k, n), e in rows.items()]
        with self.engine.begin() as connection:
            return {(row.keyid, row.nonce) for row in connection.execute(self._insert, values)}

    def purge(self, before: int) -> int:
        """Delete the rows that expired before the given Unix time; return how many."""
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(ExchangeNonceRow).where(ExchangeNonceRow.expires_at < before)
            )
        return result.rowcount or 0
