"""Write and read access records: who touched a person's data, when, why and with what result.

The caller owns the transaction: a read and the record of it commit together, or neither does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from digitalstate.access.models import AccessRecord

ACTIONS = frozenset(
    {"read", "refused", "notified", "consent-given", "consent-withdrawn", "basis-read"}
)

# The table, not the mapped class: a Core insert skips the ORM's bulk-insert machinery.
_INSERT = insert(cast("Table", AccessRecord.__table__))


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access record, as the person and auditors see it."""

    at: datetime
    requester: str
    action: str
    purpose: str | None
    consent_id: str | None
    basis_id: str | None
    fields: tuple[str, ...]
    outcome: str
    reason: str


def record_access(
    session: Session | Connection,
    *,
    pseudonym: str,
    requester: str,
    action: str,
    outcome: str,
    now: datetime,
    purpose: str | None = None,
    consent_id: str | None = None,
    basis_id: str | None = None,
    fields: Iterable[str] = (),
    reason: str = "",
) -> None:
    """Add one access record about pseudonym, in the caller's transaction (or connection)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}; one of {sorted(ACTIONS)}")
    # This runs on every consented read: one prepared Core statement, nothing else.
    session.execute(
        _INSERT,
        {
            "pseudonym": pseudonym,
            "at": now,
            "requester": requester,
            "action": action,
            "purpose": purpose,
            "consent_id": consent_id,
            "basis_id": basis_id,
            "fields": json.dumps(list(fields)),
            "outcome": outcome,
            "reason": reason,
        },
    )


def access_records_for(session: Session, pseudonym: str) -> list[AccessEntry]:
    """Every access record about pseudonym, newest first."""
    table = AccessRecord.__table__
    rows = session.execute(
        select(table)
        .where(table.c.pseudonym == pseudonym)
        .order_by(table.c.at.desc(), table.c.id.desc())
    ).mappings()
    return [
        AccessEntry(
            at=_utc(row["at"]),
            requester=row["requester"],
            action=row["action"],
            purpose=row["purpose"],
            consent_id=row["consent_id"],
            basis_id=row["basis_id"],
            fields=tuple(json.loads(row["fields"])),
            outcome=row["outcome"],
            reason=row["reason"],
        )
        for row in rows
    ]


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for aware columns; the project stores UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
