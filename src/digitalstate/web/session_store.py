"""Signed-in sessions kept in the database, so that signing out ends them (docs/adr/0015).

The session cookie carries a random session id; the ``web_sessions`` row, found by the id's
SHA-256, says who is signed in and whether the session still counts: not revoked (signed
out, signed out everywhere, replaced by a new sign-in), used within the idle timeout and no
older than the absolute timeout. Every worker of a node reads the same rows, so a sign-out on
one is a sign-out on all, and it survives a restart.

A helper's session for someone (``acting_for`` set) also has a hard end, ``ends_at``: the
acting lifetime after sign-in, or the delegation's end if that comes first. So a revoked
delegation stops counting at other nodes within the acting lifetime, and an expired one at once.

A store serves some kinds of session and only those: people's store (``person``, ``subject``)
never finds a staff member's row (``staff``), nor the staff store a person's, whatever id a
cookie carries (docs/adr/0018).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.web.models import WebSession

KIND_PERSON = "person"  # signed in to the charter's own pages: subject is the person's id
KIND_SUBJECT = "subject"  # signed in through the charter (OIDC): subject is this node's pseudonym
KIND_STAFF = "staff"  # a member of this node's staff (/staff): subject is their account id
PEOPLE_KINDS = frozenset({KIND_PERSON, KIND_SUBJECT})
Also = Callable[[Session], None]
"""More work to do in the same transaction as a session's start or end (a log entry)."""
# last_seen_at is written at most this often, so that a page costs one read, not a write.
# A session may therefore end up to this much before its idle timeout, never after.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SignedIn:
    """Who a live session is for, and since when."""

    kind: str
    subject: str
    acr: str | None
    acting_for: str | None
    signed_in_at: datetime


def hash_session_id(session_id: str) -> str:
    """The SHA-256 (hex) of a session id: what the table keeps instead of the id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_refusal(
    row: WebSession, now: datetime, *, idle: timedelta, absolute: timedelta
) -> str | None:
    """Why a session no longer counts at now (revoked, idle, too old), or None when it does."""
    if row.revoked_at is not None:
        return f"signed out at {row.revoked_at.isoformat()}"
    if now - row.last_seen_at > idle:
        return f"unused for more than {idle}"
    if now - row.created_at > absolute:
        return f"signed in more than {absolute} ago"
    if row.ends_at is not None and now >= row.ends_at:
        return f"acting for someone until {row.ends_at.isoformat()}"
    return None


def acting_end(
    now: datetime, acting: timedelta, acting_for: str | None, until: datetime | None
) -> datetime | None:
    """When a session must end besides its timeouts: for a helper, acting or until, if sooner."""
    if acting_for is None:
        return None
    end = now + acting
    return min(end, until) if until is not None else end


def revoke_sessions(
    db: Session, kind: str, subject: str, now: datetime, *, keep: str | None = None
) -> int:
    """Revoke every live session of subject (of kind) except keep's, in db's transaction.

    How many were revoked.
    """
    query = (
        update(WebSession)
        .where(WebSession.kind == kind, WebSession.subject == subject)
        .where(WebSession.revoked_at.is_(None))
    )
    if keep is not None:
        query = query.where(WebSession.id_hash != hash_session_id(keep))
    result = db.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


class SqlSessionStore:
    """Starts, checks and revokes signed-in sessions of some kinds in the node's database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        idle: timedelta,
        absolute: timedelta,
        acting: timedelta | None = None,
        kinds: Collection[str] = PEOPLE_KINDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.idle = idle
        self.absolute = absolute
        self.acting = min(acting, absolute) if acting is not None else absolute
        self.kinds = frozenset(kinds)  # the kinds of session this store starts and finds
        self.clock = clock  # tests set it: time is injected, never slept through

    def now(self) -> datetime:
        """The store's clock as an aware datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def start(
        self,
        kind: str,
        subject: str,
        *,
        acr: str | None = None,
        acting_for: str | None = None,
        acting_until: datetime | None = None,
        also: Also | None = None,
    ) -> str:
        """A new session for subject; its id, to put in the cookie (the table keeps the hash).

        acting_until is when the delegation of a helper's session ends (from the ID token);
        also(db) runs in the same transaction.
        """
        if kind not in self.kinds:
            raise ValueError(f"this store keeps {sorted(self.kinds)} sessions, not {kind!r}")
        session_id = secrets.token_urlsafe(32)
        now = self.now()
        with self.sessions.begin() as db:
            # Rows of this store's kinds past its absolute timeout can never count again: drop
            # them as we go (another store's kinds may last longer).
            db.execute(
                delete(WebSession)
                .where(WebSession.kind.in_(self.kinds))
                .where(WebSession.created_at < now - self.absolute)
            )
            db.add(
                WebSession(
                    id_hash=hash_session_id(session_id),
                    kind=kind,
                    subject=subject,
                    acr=acr,
                    acting_for=acting_for,
                    created_at=now,
                    last_seen_at=now,
                    ends_at=acting_end(now, self.acting, acting_for, acting_until),
                )
            )
            if also is not None:
                db.flush()
                also(db)
        return session_id

    def find(self, session_id: str) -> SignedIn | None:
        """Who the session is for while it counts, or None; notes its use, once a minute at most."""
        now = self.now()
        with self.sessions.begin() as db:
            row = db.get(WebSession, hash_session_id(session_id))
            if row is None or row.kind not in self.kinds:
                return None
            if session_refusal(row, now, idle=self.idle, absolute=self.absolute):
                return None
            if now - row.last_seen_at >= TOUCH_EVERY:
                row.last_seen_at = now
            return SignedIn(row.kind, row.subject, row.acr, row.acting_for, row.created_at)

    def end(self, session_id: str, *, also: Also | None = None) -> None:
        """Revoke one session (sign-out, or a new sign-in replacing it); also(db) alongside."""
        with self.sessions.begin() as db:
            db.execute(
                update(WebSession)
                .where(WebSession.id_hash == hash_session_id(session_id))
                .where(WebSession.kind.in_(self.kinds))
                .where(WebSession.revoked_at.is_(None))
                .values(revoked_at=self.now())
            )
            if also is not None:
                also(db)

    def end_all(self, kind: str, subject: str, *, keep: str | None = None) -> int:
        """Revoke every live session of subject except keep's; how many were revoked."""
        with self.sessions.begin() as db:
            return revoke_sessions(db, kind, subject, self.now(), keep=keep)
