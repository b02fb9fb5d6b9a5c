"""Appending to the log in commits shared by the calls that arrive together (group commit).

A register answers a read only once the read's entry is durable. One commit per read is one
disk flush per read (SQLite with synchronous=FULL, PostgreSQL's WAL): the register's ceiling.
Here the entries of reads that arrive while a commit is under way are appended together, in
one transaction of the store's append_entries, and each read is answered once that commit has
returned; when it fails, every read waiting on it fails and none is answered
(docs/benchmarks.md, consented reads).
"""

from __future__ import annotations

from sqlalchemy import Engine

from digitalstate.storage.shared_commits import SharedCommits
from digitalstate.transparency.entries import LogEntry
from digitalstate.transparency.store import append_entries

MAX_BATCH = 1000
"""Entries per commit: two bound values each, in statements SQLAlchemy splits as it needs."""


class LogAppender:
    """Appends entries to a node's log; append returns once the entry is committed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._commits: SharedCommits[LogEntry, None] = SharedCommits(
            self._write, max_batch=MAX_BATCH, what="log entries"
        )

    async def append(self, entry: LogEntry) -> None:
        """Return once entry is in the log and committed; raise when its commit failed."""
        await self._commits.submit(entry)

    def _write(self, entries: list[LogEntry]) -> list[None]:
        with self.engine.begin() as connection:
            append_entries(connection, entries)
        return [None] * len(entries)
