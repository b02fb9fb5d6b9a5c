"""The holder's copy of consents: taken from the charter, withdrawn by it, checked on reads.

The caller owns the transaction. A copy is stored as the charter signed it, so the register
can show anyone who asks the charter's own proof of what the person agreed to.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from digitalstate.consent.models import HeldConsent
from digitalstate.consent.records import ConsentRecord, RecordRefusedError
from digitalstate.transparency.store import record_access


def check_copy(record: ConsentRecord, *, holder: str, now: datetime) -> None:
    """Raise RecordRefusedError unless this register should hold this active record."""
    if record.holder != holder:
        raise RecordRefusedError("wrong-holder", f"the record is for {record.holder}, not {holder}")
    if record.status != "active":
        raise RecordRefusedError("not-active", f"the record is {record.status}, not active")
    if now >= record.expires_at:
        raise RecordRefusedError("expired", f"the record expired at {record.expires_at}")


def hold_consent(
    session: Session, record: ConsentRecord, envelope: dict[str, Any], *, now: datetime
) -> bool:
    """Keep the holder's copy of a new consent; False when it was already held (idempotent)."""
    if session.get(HeldConsent, record.consent_id) is not None:
        return False
    session.add(
        HeldConsent(
            id=record.consent_id,
            requester=record.requester,
            holder_pseudonym=record.pii_principal.holder_pseudonym,
            fields=json.dumps(list(record.fields)),
            purpose=record.purpose.code,
            granted_at=record.consent_timestamp,
            expires_at=record.expires_at,
            notify=record.notify_on_change,
            status="active",
            record=json.dumps(envelope),
        )
    )
    _record(session, record, "consent-given", now)
    return True


def withdraw_held(
    session: Session, record: ConsentRecord, envelope: dict[str, Any], *, now: datetime
) -> HeldConsent | None:
    """Mark the held copy withdrawn from the charter's signed withdrawal; None if not held."""
    held = session.get(HeldConsent, record.consent_id, with_for_update=True)
    if held is None:
        return None
    if held.status == "withdrawn":
        return held
    if held.requester != record.requester or held.holder_pseudonym != (
        record.pii_principal.holder_pseudonym
    ):
        raise RecordRefusedError("mismatch", "the withdrawal does not match the consent held")
    # An UPDATE only a copy not yet withdrawn matches: FOR UPDATE above waits on PostgreSQL
    # but is nothing on SQLite, so of two withdrawals at once (the charter's push and its
    # retry, at two workers) this decides which one records it.
    withdrawn = session.execute(
        update(HeldConsent)
        .where(HeldConsent.id == held.id, HeldConsent.status != "withdrawn")
        .values(
            status="withdrawn", withdrawn_at=record.withdrawn_at or now, record=json.dumps(envelope)
        ),
        execution_options={"synchronize_session": "fetch"},
    )
    if withdrawn.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(held)
        return held
    _record(session, record, "consent-withdrawn", now)
    return held


def _record(session: Session, record: ConsentRecord, action: str, now: datetime) -> None:
    record_access(
        session,
        holder=record.holder,
        pseudonym=record.pii_principal.holder_pseudonym,
        requester=record.requester,
        action=action,
        outcome="recorded",
        now=now,
        purpose=record.purpose.code,
        consent_id=record.consent_id,
        fields=record.fields,
    )
