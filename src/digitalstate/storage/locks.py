"""Count-then-insert limits made exact: one transaction at a time per key (a client, an account).

A flood limit (feedback's submissions, the sign-in locks) counts a key's recent rows, then
adds one. On PostgreSQL two transactions of the same key run side by side and can both count
below the limit before either adds its row, so a burst sent at once passes the limit. Taking
``pg_advisory_xact_lock`` of the key first makes the second wait until the first commits and
then count its row; the lock is released with the transaction, so it can never be left held.

SQLite has one writer at a time, but pysqlite begins a transaction only at the first write:
a count read before it is not part of the transaction. An empty ``DELETE`` on the table
begins it and takes the write lock, so the count and the insert that follow are one step.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, false, text
from sqlalchemy.orm import Session

from digitalstate.storage.base import Base


def advisory_key(table: str, key: str) -> int:
    """The PostgreSQL advisory lock of key in table: 64 bits of SHA-256, as a signed bigint."""
    digest = hashlib.sha256(f"digitalstate limit\0{table}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def serialise_on(db: Session, model: type[Base], *keys: str) -> None:
    """Make the rest of db's transaction wait for any other holding one of keys of model.

    Call it before counting the keys' rows of model (a table): the count and the insert after it are
    then exact under concurrency. Several keys are locked in one order (their lock numbers'),
    so that two transactions taking the same two never wait for each other in a circle.
    """
    if db.get_bind().dialect.name == "postgresql":
        for number in sorted({advisory_key(model.__tablename__, key) for key in keys}):
            db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})
    else:
        db.execute(delete(model).where(false()))
