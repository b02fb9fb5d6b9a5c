"""The node's replay store: accepted nonces in its database, written in shared commits.

Correctness comes from the database, not from a process: a nonce written here is refused by
every worker of the node and after a restart (ADR 0013). The primary key (key id, nonce) makes
the INSERT itself the check: a row that conflicts is a replay.

A commit per request would cost a disk flush per call on SQLite (synchronous=FULL) and a WAL
flush on PostgreSQL. So requests that arrive while a commit is under way wait for the next one
together (storage/shared_commits.py): one INSERT of many rows, one commit, each request told
whether its row went in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, Executable, delete

from digitalstate.exchange.models import ExchangeNonceRow
from digitalstate.storage.engine import dialect_insert
from digitalstate.storage.shared_commits import SharedCommits

MAX_BATCH = 500
"""Rows per INSERT: three bound values each, well under SQLite's limit of 32,766."""

Item = tuple[str, str, int]


@dataclass(eq=False)
class SqlNonceStore:
    """Remembers accepted (key id, nonce) pairs in the node's database until they expire."""

    engine: Engine
    _commits: SharedCommits[Item, bool] = field(init=False)
    _insert: Executable = field(init=False)

    def __post_init__(self) -> None:
        # One statement, compiled once; many rows go through SQLAlchemy's "insertmanyvalues"
        # (a multi-row INSERT ... RETURNING on both SQLite and PostgreSQL).
        table = ExchangeNonceRow.__table__
        insert = dialect_insert(self.engine.dialect.name)
        self._insert = (
            insert(table).on_conflict_do_nothing().returning(table.c.keyid, table.c.nonce)
        )
        self._commits = SharedCommits(self._answers, max_batch=MAX_BATCH, what="nonces")

    async def remember(self, keyid: str, nonce: str, expires_at: int) -> bool:
        """True when (keyid, nonce) was not seen before and is now stored; False on a replay."""
        return await self._commits.submit((keyid, nonce, expires_at))

    def _answers(self, items: list[Item]) -> list[bool]:
        stored = self.insert_new(items)
        answers = []
        for keyid, nonce, _ in items:
            # Only the first of two equal pairs in one batch is new; discard marks it.
            answers.append((keyid, nonce) in stored)
            stored.discard((keyid, nonce))
        return answers

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
