"""Reading a node's log entries in tests: what was logged, oldest first, decoded."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from digitalstate.transparency.entries import LogEntry
from digitalstate.transparency.models import LogEntryRow


def logged_entries(db: Session | Connection, pseudonym: str | None = None) -> list[LogEntry]:
    """Every entry (about pseudonym, when given), in the order they were appended."""
    query = select(LogEntryRow.body).order_by(LogEntryRow.id)
    if pseudonym is not None:
        query = query.where(LogEntryRow.pseudonym == pseudonym)
    return [LogEntry.decode(bytes(body)) for body in db.execute(query).scalars()]
