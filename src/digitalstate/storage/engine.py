"""Make a SQLAlchemy engine for a node: SQLite (WAL) embedded, PostgreSQL in production."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000
BUSY_MARKERS = (
    "database is locked",
    "database is busy",
    "database table is locked",
    "deadlock detected",
    "could not serialize access",
)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # WAL lets readers proceed while the one writer writes; foreign keys are off by default in
    # SQLite; busy_timeout makes a locked database wait and retry instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit is on disk before it returns, so a log entry is durable before the action
    # it records is acknowledged (WAL with NORMAL may lose the last commits in a power cut).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 10
) -> Engine:
    """An engine for url with the pragmas and pool settings this project relies on.

    pool_size and max_overflow bound a PostgreSQL engine's connections ([database] settings):
    pool_size kept open, max_overflow more opened when all are busy and closed when given back.
    SQLite keeps the pool SQLAlchemy gives a file by default; the settings do not apply to it.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(
        parsed, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow
    )


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory; callers own the transaction (with sessions.begin())."""
    return sessionmaker(engine, expire_on_commit=False)


def dialect_insert(dialect: str) -> Callable[..., Any]:
    """The INSERT construct of dialect ("postgresql" or "sqlite"), which has ON CONFLICT."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def is_busy(exc: OperationalError) -> bool:
    """True when the error means "try again in a moment", not "this step is wrong"."""
    text = str(exc.orig if exc.orig is not None else exc).lower()
    return any(marker in text for marker in BUSY_MARKERS)
