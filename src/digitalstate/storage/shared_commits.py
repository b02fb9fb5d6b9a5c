"""Writes that share one commit: a group commit, as databases do with their write-ahead log.

A commit per call costs a disk flush per call on SQLite (synchronous=FULL) and a WAL flush on
PostgreSQL. Here the calls that arrive while a commit is under way wait for the next one
together: one writer task takes everything queued, writes it in one transaction (in a worker
thread, so the event loop goes on serving), and tells each caller its result. A batch that
fails fails every caller waiting on it: none is told its write is durable.

Used by the replay store (exchange/nonces.py) and by the log's appends on the read path
(transparency/appender.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import OperationalError

from digitalstate.storage.engine import is_busy
from digitalstate.storage.threads import run_blocking

log = logging.getLogger(__name__)

BUSY_ATTEMPTS = 2
"""Tries of one batch while the database is busy: a second wait of busy_timeout, no more,
since a caller times out after 10 s."""

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False, slots=True)
class _Waiting(Generic[Item, Result]):
    item: Item
    answer: asyncio.Future[Result]


class SharedCommits(Generic[Item, Result]):
    """Queue items; write each batch with write(items) in one transaction of its own.

    write runs in a worker thread, commits before it returns, and gives one result per item,
    in order. At most max_batch items go into one call.
    """

    def __init__(
        self, write: Callable[[list[Item]], Sequence[Result]], *, max_batch: int, what: str
    ) -> None:
        self._write = write
        self.max_batch = max_batch
        self.what = what
        self._queue: list[_Waiting[Item, Result]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """item's result, once the commit that wrote it has returned; its error otherwise."""
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(item, answer))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued())
        return await answer

    async def _write_queued(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    results = await self._write_retrying([w.item for w in batch])
                except Exception as exc:  # every waiting caller fails; none is let through
                    log.exception("could not store %d %s", len(batch), self.what)
                    for waiting in batch:
                        if not waiting.answer.done():
                            waiting.answer.set_exception(exc)
                    continue
                for waiting, result in zip(batch, results, strict=True):
                    if not waiting.answer.done():
                        waiting.answer.set_result(result)
        finally:
            self._writer = None

    async def _write_retrying(self, items: list[Item]) -> Sequence[Result]:
        # Another writer may hold SQLite's lock past busy_timeout (5 s); try once more before
        # failing the waiting callers, as the node's other writes do (storage/retrying.py).
        for attempt in range(BUSY_ATTEMPTS):
            try:
                return await run_blocking(self._write, items)
            except OperationalError as exc:
                if not is_busy(exc) or attempt == BUSY_ATTEMPTS - 1:
                    raise
                log.warning("database busy storing %d %s; trying again", len(items), self.what)
        raise AssertionError("unreachable")
