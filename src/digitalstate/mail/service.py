"""Email use cases: queue a message in the caller's transaction; claim, settle and list them.

Every function takes a session and an explicit `now`; none commits (the caller owns the
transaction). queue_email is what the other features call: the message is queued if and only
if the caller's change commits. The delivery worker (mail/worker.py) runs each other step in
a transaction of its own, and deletes sent messages older than [email] keep_sent_days
(purge_sent), a bounded batch at a time.

Claiming is what keeps two workers (two processes over one database) from sending a message
twice: a worker takes due messages with one guarded UPDATE that sets its own claim token only
on rows nobody holds, then sends only the rows that carry its token. On PostgreSQL the rows
are first picked with FOR UPDATE SKIP LOCKED, so that workers take different rows rather than
queue behind each other; the guard alone is what makes it correct, on SQLite too.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy import ColumnElement, CursorResult, delete, func, or_, select, update
from sqlalchemy.orm import Session

from digitalstate.backoff import Backoff, next_attempt
from digitalstate.mail.domain import MAX_REASON_CHARS, Email, check_key, compose
from digitalstate.mail.models import OutboxEmail
from digitalstate.storage.engine import dialect_insert

EmailState = Literal["queued", "retrying", "sent", "failed"]
EMAIL_STATES: tuple[EmailState, ...] = ("queued", "retrying", "sent", "failed")


@dataclass(frozen=True)
class Queued:
    """What queue_email did: the outbox id of the message, and whether this call queued it."""

    id: int
    new: bool


def queue_email(
    session: Session,
    to: str | Iterable[str],
    subject: str,
    body: str,
    *,
    key: str,
    now: datetime,
) -> Queued:
    """Queue a message to send, in the caller's transaction; once per key.

    key names the message for the caller ("application:RTV-7KD4-MX2Q-P:confirmation"): a use
    case run again (a retried request, a double submit) queues nothing more and gets the same
    id back, even when two such transactions run at the same moment. Raises
    InvalidEmailError (mail/domain.py) for a message out of bounds, before writing anything.
    The worker sends it within [email] poll_seconds of the commit, or at once when the caller
    wakes it with node.wake(EMAIL_EVENT) after committing.
    """
    message = compose(to, subject, body)
    check_key(key)
    values = {
        "dedupe_key": key,
        "recipients": json.dumps(list(message.recipients)),
        "subject": message.subject,
        "body": message.body,
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
    }
    insert = dialect_insert(session.get_bind().dialect.name)
    # ON CONFLICT DO NOTHING: a concurrent transaction queueing the same key waits for the
    # first to end and then does nothing, where a plain INSERT would fail and abort the
    # caller's transaction.
    statement = (
        insert(OutboxEmail)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxEmail.id)
    )
    new_id = session.execute(statement).scalar_one_or_none()
    if new_id is not None:
        return Queued(int(new_id), True)
    existing = session.scalar(select(OutboxEmail.id).where(OutboxEmail.dedupe_key == key))
    assert existing is not None  # the row that conflicted; rows are never deleted
    return Queued(int(existing), False)


# --- the worker's steps -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedEmail:
    """A message a worker holds: what to send, and the token that proves it holds it."""

    id: int
    key: str
    message: Email
    attempts: int
    claim: str


def _unsettled() -> list[ColumnElement[bool]]:
    return [OutboxEmail.sent_at.is_(None), OutboxEmail.failed_at.is_(None)]


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until < now)


def claim_due(session: Session, now: datetime, limit: int, lease: timedelta) -> list[ClaimedEmail]:
    """Take up to limit messages due at now for this worker until now + lease; oldest first.

    A message another worker holds (its claim not yet expired) is left to it. A worker that
    dies while holding messages leaves them to be taken again once its lease ends.
    """
    due = (
        select(OutboxEmail.id)
        .where(*_unsettled(), OutboxEmail.next_attempt_at <= now, _free(now))
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has no row locks and skips it
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    token = secrets.token_hex(16)
    # The guard repeats the conditions: a row another worker claimed since the SELECT (SQLite,
    # or a PostgreSQL row that was not locked) is not taken. On PostgreSQL an UPDATE that
    # waited on another's row re-checks the guard against the row as the other left it.
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(ids), *_unsettled(), _free(now))
        .values(claim=token, claimed_until=now + lease)
    )
    rows = session.scalars(
        select(OutboxEmail).where(OutboxEmail.claim == token).order_by(OutboxEmail.id)
    )
    return [
        ClaimedEmail(
            id=row.id,
            key=row.dedupe_key,
            message=Email(tuple(json.loads(row.recipients)), row.subject, row.body),
            attempts=row.attempts,
            claim=token,
        )
        for row in rows
    ]


def _held(claimed: ClaimedEmail) -> list[ColumnElement[bool]]:
    return [OutboxEmail.id == claimed.id, OutboxEmail.claim == claimed.claim, *_unsettled()]


def mark_sent(session: Session, claimed: ClaimedEmail, now: datetime, note: str = "") -> bool:
    """Record that the server took the message; False if this worker no longer held it.

    note is kept as last_error when some recipients were refused and others taken.
    """
    done = session.execute(
        update(OutboxEmail)
        .where(*_held(claimed))
        .values(sent_at=now, claim=None, claimed_until=None, last_error=note[:MAX_REASON_CHARS])
    )
    return cast("CursorResult[object]", done).rowcount == 1


@dataclass(frozen=True)
class Failure:
    """What became of a failed try: the tries so far, and the next one (None: failed for good)."""

    attempts: int
    next_attempt_at: datetime | None


def record_failure(
    session: Session,
    claimed: ClaimedEmail,
    reason: str,
    now: datetime,
    *,
    permanent: bool,
    rng: random.Random,
    backoff: Backoff,
) -> Failure | None:
    """Count a failed try: fail the message for good, or set its next try and let it go.

    None when this worker no longer held it (its lease ran out and another took it).
    """
    row = session.scalars(select(OutboxEmail).where(*_held(claimed))).one_or_none()
    if row is None:
        return None
    row.attempts += 1
    row.last_error = reason[:MAX_REASON_CHARS]
    row.claim = None
    row.claimed_until = None
    if permanent:
        row.failed_at = now
        return Failure(row.attempts, None)
    row.next_attempt_at = next_attempt(row.attempts - 1, now, rng, backoff)
    return Failure(row.attempts, row.next_attempt_at)


def release(session: Session, claimed: Iterable[ClaimedEmail]) -> None:
    """Give back messages this worker holds but did not try (it is stopping): due again now."""
    for one in claimed:
        session.execute(
            update(OutboxEmail).where(*_held(one)).values(claim=None, claimed_until=None)
        )


# --- what an operator sees --------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    """A message in the outbox as an operator sees it."""

    id: int
    key: str
    recipients: list[str]
    subject: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str

    @property
    def state(self) -> EmailState:
        """sent, failed (for good), retrying (tried and failed) or queued (not tried yet)."""
        if self.sent_at is not None:
            return "sent"
        if self.failed_at is not None:
            return "failed"
        return "retrying" if self.attempts > 0 else "queued"


def _in_state(state: EmailState) -> list[ColumnElement[bool]]:
    if state == "sent":
        return [OutboxEmail.sent_at.is_not(None)]
    if state == "failed":
        return [OutboxEmail.failed_at.is_not(None)]
    tried = OutboxEmail.attempts > 0
    return [*_unsettled(), tried if state == "retrying" else ~tried]


def list_outbox(session: Session, state: EmailState, *, limit: int = 200) -> list[OutboxEntry]:
    """The messages in one state, newest first, at most limit."""
    rows = session.scalars(
        select(OutboxEmail).where(*_in_state(state)).order_by(OutboxEmail.id.desc()).limit(limit)
    )
    return [
        OutboxEntry(
            id=row.id,
            key=row.dedupe_key,
            recipients=list(json.loads(row.recipients)),
            subject=row.subject,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            failed_at=row.failed_at,
            last_error=row.last_error,
        )
        for row in rows
    ]


def count_outbox(session: Session) -> dict[EmailState, int]:
    """How many messages are queued, retrying, sent and failed."""
    counts: dict[EmailState, int] = dict.fromkeys(EMAIL_STATES, 0)
    sent = OutboxEmail.sent_at.is_not(None)
    failed = OutboxEmail.failed_at.is_not(None)
    tried = OutboxEmail.attempts > 0
    query = select(sent, failed, tried, func.count()).group_by(sent, failed, tried)
    for is_sent, is_failed, is_tried, number in session.execute(query):
        state: EmailState = (
            "sent" if is_sent else "failed" if is_failed else "retrying" if is_tried else "queued"
        )
        counts[state] += number
    return counts


def purge_sent(session: Session, before: datetime, limit: int) -> int:
    """Delete up to limit messages sent before before, oldest first: how many. A failed or
    unsent message is never deleted (the operator's page shows it); a deleted one's key no
    longer stops the same key being queued again."""
    ids = list(
        session.scalars(
            select(OutboxEmail.id)
            .where(OutboxEmail.sent_at < before)
            .order_by(OutboxEmail.sent_at, OutboxEmail.id)
            .limit(limit)
        )
    )
    if ids:
        session.execute(delete(OutboxEmail).where(OutboxEmail.id.in_(ids)))
    return len(ids)


def pending_count(session: Session) -> int:
    """How many messages are waiting to be sent (queued or retrying)."""
    found = session.scalar(select(func.count()).select_from(OutboxEmail).where(*_unsettled()))
    return int(found or 0)
