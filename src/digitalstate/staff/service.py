"""Use cases of staff accounts: add, list, disable, enable, change a role; sign-in; the log.

The caller owns the transaction (``with node.sessions.begin() as db:``); nothing here commits.
Times are aware UTC datetimes passed in as ``now``.

Every staff action is an entry in the node's transparency log (DESIGN §8): record_staff_action
appends one in the caller's transaction, so the entry is durable exactly when the action is.
Sign-in, failed sign-in and sign-out are entries about no one person; the queue and case pages
record theirs about the person whose case it is (docs/transparency.md#staff-entries).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.identity.service import (
    check_against_no_account,
    normalise_email,
    verify_password,
)
from digitalstate.identity.throttle import Verify
from digitalstate.staff.domain import (
    UNKNOWN_REQUESTER,
    StaffMember,
    email_problem,
    name_problem,
    role_problem,
    staff_requester,
)
from digitalstate.staff.models import StaffAccount
from digitalstate.transparency.entries import NO_ONE, STAFF_ACTIONS, LogEntry
from digitalstate.transparency.store import record_access
from digitalstate.web.session_store import KIND_STAFF, revoke_sessions

logger = logging.getLogger("digitalstate.staff")

SIGNED_IN = "staff-signed-in"
SIGN_IN_FAILED = "staff-sign-in-failed"
SIGNED_OUT = "staff-signed-out"
MAX_DETAIL = 500  # characters of detail a log entry keeps


class StaffError(ValueError):
    """A change to staff accounts that cannot be made; str() says why and what to do."""


# --- accounts --------------------------------------------------------------------------------


def add_staff(
    db: Session,
    *,
    email: str,
    display_name: str,
    role: str,
    password_hash: str,
    now: datetime,
    account_id: str | None = None,
) -> StaffAccount:
    """A new staff account (id a UUID4 unless given); StaffError if the email is taken."""
    email = normalise_email(email)
    display_name = display_name.strip()
    problem = email_problem(email) or name_problem(display_name) or role_problem(role)
    if problem is not None:
        raise StaffError(problem)
    if find_staff(db, email) is not None:
        raise StaffError(f"a staff account with the email address {email} exists already")
    account = StaffAccount(
        id=account_id or str(uuid.uuid4()),
        email=email,
        display_name=display_name,
        role=role,
        password_hash=password_hash,
        created_at=now,
    )
    db.add(account)
    db.flush()
    return account


def find_staff(db: Session, email: str) -> StaffAccount | None:
    """The staff account with this email address (any case, spaces trimmed), or None."""
    return db.scalar(select(StaffAccount).where(StaffAccount.email == normalise_email(email)))


def list_staff(db: Session) -> list[StaffAccount]:
    """Every staff account, disabled ones too, by email address."""
    return list(db.scalars(select(StaffAccount).order_by(StaffAccount.email)))


def _named(db: Session, email: str) -> StaffAccount:
    account = find_staff(db, email)
    if account is None:
        raise StaffError(f"no staff account has the email address {normalise_email(email)}")
    return account


def disable_staff(db: Session, email: str, now: datetime) -> tuple[StaffAccount, int]:
    """Stop the account signing in and end its live sessions; it and how many sessions ended."""
    account = _named(db, email)
    if account.disabled_at is None:
        account.disabled_at = now
    ended = revoke_sessions(db, KIND_STAFF, account.id, now)
    return account, ended


def enable_staff(db: Session, email: str) -> StaffAccount:
    """Let a disabled account sign in again."""
    account = _named(db, email)
    account.disabled_at = None
    return account


def set_role(db: Session, email: str, role: str) -> StaffAccount:
    """Give the account another role; it applies from its next page."""
    problem = role_problem(role)
    if problem is not None:
        raise StaffError(problem)
    account = _named(db, email)
    account.role = role
    return account


def member(account: StaffAccount) -> StaffMember:
    """The account as a plain value."""
    return StaffMember(account.id, account.email, account.display_name, account.role)


def active_member(db: Session, account_id: str) -> StaffMember | None:
    """The member of staff with this account id, unless it is gone or disabled."""
    account = db.get(StaffAccount, account_id)
    if account is None or account.disabled_at is not None:
        return None
    return member(account)


# --- signing in ------------------------------------------------------------------------------


def staff_verifier(holder: str, clock: Callable[[], datetime]) -> Verify:
    """The sign-in guard's Verify for staff: the account id, or None with the failure logged.

    Every outcome costs one argon2 check (an unknown email, a disabled account too), so the
    time taken tells nothing. A failure is a log entry in the attempt's transaction; a success
    is logged when its session starts (signed_in_entry).
    """

    def verify(db: Session, email: str, password: str) -> str | None:
        account = find_staff(db, email)
        if account is None:
            check_against_no_account(password)
            _failed(db, holder, UNKNOWN_REQUESTER, "no account has this email address", clock())
            return None
        if not verify_password(account.password_hash, password):
            _failed(db, holder, staff_requester(account.id), "wrong password", clock())
            return None
        if account.disabled_at is not None:
            _failed(db, holder, staff_requester(account.id), "the account is disabled", clock())
            return None
        return account.id

    return verify


def _failed(db: Session, holder: str, requester: str, reason: str, now: datetime) -> None:
    logger.info("staff sign-in failed at %s: %s (%s)", holder, reason, requester)
    record_access(
        db,
        holder=holder,
        pseudonym=NO_ONE,
        requester=requester,
        action=SIGN_IN_FAILED,
        outcome="refused",
        now=now,
        reason=reason,
    )


# --- the log ---------------------------------------------------------------------------------


def record_staff_action(
    db: Session,
    staff: StaffMember,
    action: str,
    *,
    holder: str,
    now: datetime,
    subject: str | None = None,
    outcome: str = "recorded",
    detail: str = "",
    purpose: str | None = None,
    fields: Iterable[str] = (),
) -> LogEntry:
    """Append what staff did to the node's log, in the caller's transaction; the entry.

    holder: this node's member id. action: one of transparency.entries.STAFF_ACTIONS.
    subject: this node's pseudonym for the person the action concerns (their case), so that
    the person is shown it; None for an action about no one person (sign-in, sign-out).
    outcome: "recorded" unless the action was allowed or refused as such. detail: what was
    done, in a few words (at most MAX_DETAIL characters are kept). purpose and fields: the
    purpose code and the fields of the person's record the action touched, if any.
    """
    if action not in STAFF_ACTIONS:
        raise ValueError(f"{action!r} is not a staff action; one of {sorted(STAFF_ACTIONS)}")
    return record_access(
        db,
        holder=holder,
        pseudonym=subject if subject is not None else NO_ONE,
        requester=staff.requester,
        action=action,
        outcome=outcome,
        now=now,
        purpose=purpose,
        fields=fields,
        reason=detail[:MAX_DETAIL],
    )


def signed_in_entry(db: Session, account_id: str, *, holder: str, now: datetime) -> None:
    """Log that account_id signed in (with its role at the time), in db's transaction."""
    account = db.get(StaffAccount, account_id)
    assert account is not None, "a staff account is never deleted"
    staff = member(account)  # disabled since its password was checked: the session opens nothing
    record_staff_action(
        db, staff, SIGNED_IN, holder=holder, now=now, outcome="allowed", detail=staff.role
    )


def signed_out_entry(db: Session, staff: StaffMember, *, holder: str, now: datetime) -> None:
    """Log that staff signed out, in db's transaction."""
    record_staff_action(db, staff, SIGNED_OUT, holder=holder, now=now)
