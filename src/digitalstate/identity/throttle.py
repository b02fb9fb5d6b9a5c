"""Limits on signing in: locks after repeated failures, and argon2 in bounds.

Failures are rows in the database (sign_in_attempts), so a lock holds across restarts and
workers (docs/adr/0014). The caller owns the transaction; times are aware UTC datetimes.

The charter's people sign in through a guard of the realm "" and a node's staff through one of
the realm "staff": an account's failures count only in its own realm, so a person and a member
of staff with the same email address never lock each other out. A client's failures count in
every realm.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.identity.domain import Bound
from digitalstate.identity.models import SignInAttempt
from digitalstate.identity.service import authenticate, normalise_email
from digitalstate.settings import SignInSection
from digitalstate.storage.locks import serialise_on
from digitalstate.storage.threads import run_blocking

CLIENT_LENGTH = 64

logger = logging.getLogger(__name__)


class PasswordWorkBusyError(RuntimeError):
    """Every password check slot stayed taken for the whole wait: answer 503."""


Verify = Callable[[Session, str, str], str | None]
"""Checks (session, email, password): the id of the account they open, or None."""


def account_key(email: str, realm: str = "") -> str:
    """What an attempt keeps of the email typed: a SHA-256 of it, normalised (after realm:)."""
    typed = normalise_email(email)
    return hashlib.sha256((f"{realm}:{typed}" if realm else typed).encode()).hexdigest()


def client_key(host: str | None) -> str:
    """What an attempt keeps of the client: an IPv4 address, or the /64 of an IPv6 one."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return (host or "unknown")[:CLIENT_LENGTH]
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
        return str(address.ipv4_mapped)
    # One IPv6 client has a whole /64 of addresses to guess from: count it as one.
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


@dataclass(frozen=True)
class FailureNotice:
    """Failed sign-ins to an account between its last two sign-ins."""

    count: int
    last_at: datetime


def _failures(session: Session, *where: ColumnElement[bool]) -> tuple[int, datetime | None]:
    """How many failed attempts match where, and when the last was."""
    count, last = session.execute(
        select(func.count(), func.max(SignInAttempt.at)).where(
            SignInAttempt.succeeded.is_(False), *where
        )
    ).one()
    return int(count), last


def _last_success(
    session: Session, account: str, before: datetime | None = None
) -> datetime | None:
    """When account last signed in (before before, when given)."""
    query = select(func.max(SignInAttempt.at)).where(
        SignInAttempt.account == account, SignInAttempt.succeeded.is_(True)
    )
    if before is not None:
        query = query.where(SignInAttempt.at < before)
    last = session.scalar(query)
    return last


def locked_until(
    session: Session, *, account: str, client: str, bounds: tuple[Bound, Bound], now: datetime
) -> datetime | None:
    """When the later of the account's and the client's locks ends; None when neither is locked.

    An account's count starts again after it signs in; a client's does not.
    """
    account_bound, client_bound = bounds
    since = now - account_bound.window
    success = _last_success(session, account)
    if success is not None and success > since:
        since = success
    ends = [
        account_bound.locked_until(
            *_failures(session, SignInAttempt.account == account, SignInAttempt.at > since)
        ),
        client_bound.locked_until(
            *_failures(
                session,
                SignInAttempt.client == client,
                SignInAttempt.at > now - client_bound.window,
            )
        ),
    ]
    later = max((end for end in ends if end is not None), default=None)
    return later if later is not None and later > now else None


def record_attempt(
    session: Session,
    *,
    account: str,
    client: str,
    succeeded: bool,
    now: datetime,
    keep: timedelta,
) -> SignInAttempt:
    """Keep one attempt; drop those older than keep."""
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - keep))
    attempt = SignInAttempt(account=account, client=client, succeeded=succeeded, at=now)
    session.add(attempt)
    session.flush()
    return attempt


def failures_before_sign_in(session: Session, email: str, realm: str = "") -> FailureNotice | None:
    """Failed sign-ins to email's account between its last sign-in and the one before."""
    account = account_key(email, realm)
    latest = _last_success(session, account)
    if latest is None:
        return None
    previous = _last_success(session, account, before=latest)
    where = [SignInAttempt.account == account, SignInAttempt.at < latest]
    if previous is not None:
        where.append(SignInAttempt.at > previous)
    count, last = _failures(session, *where)
    return FailureNotice(count, last) if count and last is not None else None


@dataclass
class SignInGuard:
    """Sign-in limits of one realm: lock bounds, argon2 slots and the clock they run on.

    realm: whose accounts ("" the charter's people, "staff" a node's staff).
    """

    settings: SignInSection
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    realm: str = ""
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.settings.password_checks_at_once)

    @property
    def bounds(self) -> tuple[Bound, Bound]:
        """The account's bound and the client's."""
        s = self.settings
        window = timedelta(minutes=s.window_minutes)
        first = timedelta(seconds=s.first_lock_seconds)
        longest = timedelta(minutes=s.longest_lock_minutes)
        return (
            Bound(s.account_failures, window, first, longest),
            Bound(s.client_failures, window, first, longest),
        )

    @property
    def keep(self) -> timedelta:
        """How long attempts are kept."""
        return timedelta(days=self.settings.attempts_kept_days)

    @asynccontextmanager
    async def password_slot(self) -> AsyncIterator[None]:
        """Hold one of the argon2 slots; PasswordWorkBusyError when none frees up in time.

        argon2id takes 64 MiB per check: unbounded, a flood of sign-ins exhausts memory. The
        wait is on the event loop, not in the thread pool, so waiting sign-ins leave its
        threads to the other pages.
        """
        try:
            async with asyncio.timeout(self.settings.password_wait_seconds):
                await self.slots.acquire()
        except TimeoutError:
            raise PasswordWorkBusyError("every password check slot is taken") from None
        try:
            yield
        finally:
            self.slots.release()


@dataclass(frozen=True)
class Attempt:
    """What came of a sign-in: the account signed in, or the lock that refused it unchecked."""

    account_id: str | None = None
    locked_until: datetime | None = None


def lock_on(
    guard: SignInGuard, sessions: sessionmaker[Session], email: str, client: str
) -> datetime | None:
    """When the lock on email's account or on client ends; None when neither is locked."""
    now = guard.clock()
    account = account_key(email, guard.realm)
    with sessions.begin() as session:
        until = locked_until(session, account=account, client=client, bounds=guard.bounds, now=now)
    if until is not None:
        logger.info("sign-in refused unchecked: locked until %s (client %s)", until, client)
    return until


def person_with(session: Session, email: str, password: str) -> str | None:
    """The charter's Verify: the id of the person with this email and password, or None."""
    person = authenticate(session, email, password)
    return person.id if person else None


def take_attempt(
    guard: SignInGuard, sessions: sessionmaker[Session], email: str, client: str
) -> SignInAttempt | datetime:
    """Keep an attempt to sign in to email's account from client as failed (until its password is
    found right), or when the lock on either ends when one is locked (nothing kept).

    The lock is read and the attempt kept in one transaction of the account and the client at a
    time (storage/locks.py): guesses sent at once are counted one after the other, so no more of
    them are checked than the allowance. The password is checked afterwards, outside it: an
    argon2 check never holds the lock (nor, on SQLite, the database's one writer).
    """
    account, now = account_key(email, guard.realm), guard.clock()
    with sessions.begin() as session:
        serialise_on(session, SignInAttempt, f"account:{account}", f"client:{client}")
        until = locked_until(session, account=account, client=client, bounds=guard.bounds, now=now)
        if until is not None:
            return until
        return record_attempt(
            session, account=account, client=client, succeeded=False, now=now, keep=guard.keep
        )


def check_password(
    guard: SignInGuard,
    sessions: sessionmaker[Session],
    email: str,
    password: str,
    client: str,
    verify: Verify = person_with,
) -> Attempt:
    """The id of the account verify finds for this email and password, or the lock that refused
    the attempt unchecked; the attempt is kept (take_attempt), as succeeded once it is found.

    verify runs in its own transaction. It must spend one argon2 check on an unknown email as
    on a known one: an unknown email then counts towards a lock like a wrong password, so that
    neither the time nor a lock tells whether an account exists.
    """
    taken = take_attempt(guard, sessions, email, client)
    if isinstance(taken, datetime):
        logger.info("sign-in refused unchecked: locked until %s (client %s)", taken, client)
        return Attempt(locked_until=taken)
    with sessions.begin() as session:
        found = verify(session, email, password)
        if found is None:
            return Attempt()
        session.execute(
            update(SignInAttempt).where(SignInAttempt.id == taken.id).values(succeeded=True)
        )
        if notice := failures_before_sign_in(session, email, guard.realm):
            logger.warning(
                "%d failed sign-in attempts to account %s… before this sign-in, the last at %s",
                notice.count,
                taken.account[:12],
                notice.last_at.isoformat(),
            )
        return Attempt(account_id=found)


async def attempt_sign_in(
    guard: SignInGuard,
    sessions: sessionmaker[Session],
    email: str,
    password: str,
    client: str,
    verify: Verify = person_with,
) -> Attempt:
    """The account with this email and password, or the lock that refused it unchecked.

    The lock is read before waiting for an argon2 slot (a locked guess takes none) and
    again, with the attempt kept in the same transaction, once one is held: a burst checks
    no guess past the lock, however many workers it reaches. Raises PasswordWorkBusyError
    when no argon2 slot frees up in time.
    """
    if (until := await run_blocking(lock_on, guard, sessions, email, client)) is not None:
        return Attempt(locked_until=until)
    async with guard.password_slot():
        # Again, now that a slot is held, and exactly (take_attempt): guesses sent together
        # all passed the first look before any of them had failed.
        return await run_blocking(check_password, guard, sessions, email, password, client, verify)
