"""Tell-us-once use cases: the holder's outbox and the requester's received notices.

Every function takes a session and an explicit `now`; none commits (the caller owns the
transaction). Each one is a short step, so the delivery worker can run it in its own
transaction and retry it alone when the database is busy.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from digitalstate.consent.models import HeldConsent
from digitalstate.problems import Problem
from digitalstate.registers.models import OutboxMessage
from digitalstate.services.models import ServiceConsent
from digitalstate.tellusonce.domain import Backoff, is_dead, next_attempt
from digitalstate.tellusonce.models import ReceivedNotice
from digitalstate.transparency.store import record_access

OutboxState = Literal["pending", "failing", "dead"]


@dataclass(frozen=True)
class PendingNotice:
    """An outbox row as the delivery worker needs it: what to send and to whom."""

    id: int
    requester: str
    consent_id: str
    fields: list[str]
    version: int
    idempotency_key: str
    created_at: datetime
    attempts: int

    def body(self, holder: str) -> dict[str, object]:
        """The notice as sent: no personal data, only which fields changed (docs/adr/0008)."""
        return {
            "consent_id": self.consent_id,
            "holder": holder,
            "fields": self.fields,
            "version": self.version,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class Failure:
    """What became of a notice that failed: its failures so far, next try, or dead-lettered."""

    attempts: int
    next_attempt_at: datetime
    dead: bool


def _pending(row: OutboxMessage) -> PendingNotice:
    return PendingNotice(
        id=row.id,
        requester=row.requester,
        consent_id=row.consent_id,
        fields=list(json.loads(row.fields)),
        version=row.version,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        attempts=row.attempts,
    )


def due_notices(session: Session, now: datetime, limit: int) -> list[PendingNotice]:
    """The notices due to be sent at now, oldest first, at most limit."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.dead_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    return [_pending(row) for row in rows]


def mark_delivered(session: Session, notice: PendingNotice, now: datetime, holder: str) -> bool:
    """Mark a notice delivered and record it where the person sees it; False if it already was."""
    # Only the first to mark it records the access: with several workers over one database a
    # notice can be sent twice (the receiver dedupes), but it is shown to the person once.
    marked = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == notice.id, OutboxMessage.delivered_at.is_(None))
        .values(delivered_at=now, dead_at=None, last_error="")
    )
    if cast("CursorResult[object]", marked).rowcount != 1:
        return False
    row = session.get(OutboxMessage, notice.id)
    assert row is not None
    held = session.get(HeldConsent, notice.consent_id)
    record_access(
        session,
        holder=holder,
        pseudonym=row.pseudonym,
        requester=row.requester,
        action="notified",
        outcome="delivered",
        now=now,
        purpose=held.purpose if held is not None else None,
        consent_id=row.consent_id,
        fields=notice.fields,
        reason=f"told of a change (version {row.version})",
    )
    return True


def record_failure(
    session: Session,
    notice: PendingNotice,
    error: str,
    now: datetime,
    *,
    rng: random.Random,
    backoff: Backoff,
    dead_after: timedelta,
) -> Failure | None:
    """Count a failed try, set the next one, or dead-letter the notice once it is too old."""
    row = session.get(OutboxMessage, notice.id)
    if row is None or row.delivered_at is not None or row.dead_at is not None:
        return None  # delivered meanwhile by another worker, or retried by an operator
    row.attempts += 1
    row.last_error = error[:2000]
    row.next_attempt_at = next_attempt(row.attempts - 1, now, rng, backoff)
    dead = is_dead(row.created_at, now, dead_after)
    if dead:
        row.dead_at = now
    return Failure(row.attempts, row.next_attempt_at, dead)


@dataclass(frozen=True)
class OutboxEntry:
    """An undelivered notice as an operator sees it."""

    id: int
    requester: str
    consent_id: str
    fields: list[str]
    version: int
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    dead_at: datetime | None

    @property
    def state(self) -> OutboxState:
        """dead (dead-lettered), failing (tried and failed) or pending (not tried yet)."""
        if self.dead_at is not None:
            return "dead"
        return "failing" if self.attempts > 0 else "pending"


def list_outbox(
    session: Session, *, state: OutboxState | None = None, limit: int | None = 500
) -> list[OutboxEntry]:
    """Undelivered notices, all or those in one state, oldest first, at most limit."""
    query = select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
    if state == "dead":
        query = query.where(OutboxMessage.dead_at.is_not(None))
    elif state in ("failing", "pending"):
        tried = OutboxMessage.attempts > 0
        query = query.where(
            OutboxMessage.dead_at.is_(None), tried if state == "failing" else ~tried
        )
    rows = session.scalars(query.order_by(OutboxMessage.id).limit(limit))
    return [
        OutboxEntry(
            id=row.id,
            requester=row.requester,
            consent_id=row.consent_id,
            fields=list(json.loads(row.fields)),
            version=row.version,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            dead_at=row.dead_at,
        )
        for row in rows
    ]


def count_outbox(session: Session) -> dict[OutboxState, int]:
    """How many notices are pending, failing and dead-lettered."""
    counts: dict[OutboxState, int] = {"pending": 0, "failing": 0, "dead": 0}
    dead = OutboxMessage.dead_at.is_not(None)
    failing = OutboxMessage.attempts > 0
    query = select(dead, failing, func.count()).where(OutboxMessage.delivered_at.is_(None))
    for is_dead_row, is_failing, number in session.execute(query.group_by(dead, failing)):
        state: OutboxState = "dead" if is_dead_row else "failing" if is_failing else "pending"
        counts[state] += number
    return counts


def retry_notices(session: Session, ids: Sequence[int], now: datetime) -> list[int]:
    """Make these undelivered notices due now with a fresh count; return the ids changed."""
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.id.in_(list(ids)), OutboxMessage.delivered_at.is_(None)
        )
    )
    return [_reset(row, now) for row in rows]


def retry_dead(session: Session, now: datetime) -> list[int]:
    """Make every dead-lettered notice due now with a fresh count; return their ids."""
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.dead_at.is_not(None), OutboxMessage.delivered_at.is_(None)
        )
    )
    return [_reset(row, now) for row in rows]


def _reset(row: OutboxMessage, now: datetime) -> int:
    row.dead_at = None
    row.attempts = 0
    row.next_attempt_at = now
    return row.id


# --- the requester's side --------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A change notice as received: which consent, which fields changed, the new version."""

    consent_id: str
    holder: str
    fields: list[str]
    version: int
    idempotency_key: str


def receive_notice(session: Session, notice: Notice, caller: str, now: datetime) -> bool:
    """Record a notice once; True when it is new, False for a duplicate (nothing changes)."""
    if notice.holder != caller:
        raise Problem(
            "notice-holder-mismatch",
            f"the notice names {notice.holder!r} as holder but was sent by {caller!r}",
        )
    held = session.get(ServiceConsent, notice.consent_id)
    if held is not None and held.holder != caller:
        raise Problem(
            "notice-holder-mismatch",
            f"consent {notice.consent_id} is held by {held.holder!r}, not by {caller!r}",
        )
    if session.get(ReceivedNotice, notice.idempotency_key) is not None:
        return False
    # The same notice arriving twice at the same moment: one insert wins, the other raises
    # IntegrityError here, and the caller answers it as a duplicate after rolling back.
    session.add(
        ReceivedNotice(
            idempotency_key=notice.idempotency_key,
            holder=notice.holder,
            consent_id=notice.consent_id,
            fields=json.dumps(notice.fields),
            version=notice.version,
            received_at=now,
            processed_at=None,
        )
    )
    session.flush()
    return True


def unprocessed_notices(session: Session, limit: int) -> list[tuple[str, str]]:
    """(idempotency key, consent id) of notices whose re-read has not been done, oldest first."""
    rows = session.execute(
        select(ReceivedNotice.idempotency_key, ReceivedNotice.consent_id)
        .where(ReceivedNotice.processed_at.is_(None))
        .order_by(ReceivedNotice.received_at, ReceivedNotice.idempotency_key)
        .limit(limit)
    )
    return [(key, consent_id) for key, consent_id in rows]


def mark_processed(session: Session, keys: Sequence[str], now: datetime) -> None:
    """Record that the re-read for these notices is done."""
    session.execute(
        update(ReceivedNotice)
        .where(ReceivedNotice.idempotency_key.in_(list(keys)))
        .where(ReceivedNotice.processed_at.is_(None))
        .values(processed_at=now)
    )
