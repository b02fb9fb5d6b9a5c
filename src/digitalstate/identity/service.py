"""Use cases of the charter's identity: people, passwords, delegations and pseudonyms.

The caller owns the transaction (``with node.sessions.begin() as session:``); nothing here
commits. Times are aware UTC datetimes passed in as ``now``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from digitalstate.identity.models import Delegation, IssuedPseudonym, Person
from digitalstate.identity.pseudonyms import load_or_create_secret, pseudonym
from digitalstate.storage.engine import dialect_insert
from digitalstate.web.i18n import N_, _

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

_HASHER = PasswordHasher()

MAX_EMAIL = 320  # the longest email address a person or an invitation can have

# What a helper may do for a person, as people read it (the delegation's scope words).
DELEGATION_SCOPES: dict[str, str] = {
    "consent": N_("Give and withdraw consents for you"),
    "sign-in": N_("Use services for you"),
}
SIGN_IN_SCOPE = "sign-in"


# --- people and passwords -----------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash of password, to store."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when password matches password_hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return hash_password(uuid.uuid4().hex)


def check_against_no_account(password: str) -> None:
    """Spend one password check, as for an account, on an email that has none.

    So the time a sign-in takes does not tell whether an account exists.
    """
    verify_password(_dummy_hash(), password)


def normalise_email(email: str) -> str:
    """An email address as it is stored and looked up: trimmed, lower case."""
    return email.strip().lower()


def create_person(
    session: Session,
    *,
    email: str,
    display_name: str,
    password_hash: str,
    now: datetime,
    person_id: str | None = None,
    level_of_assurance: str = "low",
) -> Person:
    """Add a person with an account; their id (UUID4 unless given) never leaves the charter."""
    person = Person(
        id=person_id or str(uuid.uuid4()),
        email=normalise_email(email),
        password_hash=password_hash,
        display_name=display_name,
        level_of_assurance=level_of_assurance,
        created_at=now,
    )
    session.add(person)
    session.flush()
    claim_invitations(session, person.email)
    return person


def get_person(session: Session, person_id: str) -> Person | None:
    """The person with this internal id, or None."""
    return session.get(Person, person_id)


def find_person_by_email(session: Session, email: str) -> Person | None:
    """The person with this email address, or None."""
    return session.scalar(select(Person).where(Person.email == normalise_email(email)))


def authenticate(session: Session, email: str, password: str) -> Person | None:
    """The person whose email and password these are, or None.

    An unknown email still costs one password check, so that the time taken does not tell
    whether an account exists.
    """
    person = find_person_by_email(session, email)
    if person is None:
        check_against_no_account(password)
        return None
    return person if verify_password(person.password_hash, password) else None


# --- delegations ----------------------------------------------------------------------------


class DelegationError(ValueError):
    """A delegation that cannot be granted; field names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Invitation:
    """A delegation as the person who granted it sees it: the helper only by the email typed."""

    delegation: Delegation

    @property
    def email(self) -> str:
        """The helper's email address, as the person typed it (normalised)."""
        return self.delegation.helper_email

    @property
    def scopes(self) -> frozenset[str]:
        """What the helper may do."""
        return frozenset(self.delegation.scope.split())

    def status(self, now: datetime) -> str:
        """'revoked', 'expired' or 'active' at now."""
        if self.delegation.revoked_at is not None:
            return "revoked"
        if self.delegation.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True)
class DelegationEntry(Invitation):
    """A delegation a helper holds, and the person they may act for."""

    other: Person


def _scope_words(scope: str | Iterable[str]) -> list[str]:
    words = scope.split() if isinstance(scope, str) else list(scope)
    unknown = sorted(set(words) - set(DELEGATION_SCOPES))
    if unknown:
        raise DelegationError(
            "scope", _("Unknown kind of help: %(kinds)s") % {"kinds": ", ".join(unknown)}
        )
    if not words:
        raise DelegationError("scope", _("Select what they can do for you"))
    return sorted(set(words))


def _helper_email(helper_email: str) -> str:
    email = normalise_email(helper_email)
    if not email:
        raise DelegationError("email", _("Enter the email address of the person who will help you"))
    local, _at, domain = email.rpartition("@")
    if len(email) > MAX_EMAIL or not local or not domain or any(c.isspace() for c in email):
        raise DelegationError(
            "email", _("Enter an email address in the correct format, like name@example.com")
        )
    return email


def grant_delegation(
    session: Session,
    *,
    person_id: str,
    helper_email: str,
    scope: str | Iterable[str],
    expires_at: datetime,
    now: datetime,
) -> Delegation:
    """Let whoever has helper_email act for person_id within scope until expires_at.

    The invitation is kept whether or not helper_email has an account, and reads the same
    either way, so that nobody learns who has an account by inviting them. It lets the account
    with that email act at once; while there is none it grants nothing, and takes effect when
    one is created (claim_invitations). A new invitation to the same email replaces the one
    before. Raises DelegationError.
    """
    words = _scope_words(scope)
    email = _helper_email(helper_email)
    if expires_at <= now:
        raise DelegationError("expires", _("The date help ends must be in the future"))
    person = get_person(session, person_id)
    if person is not None and person.email == email:
        raise DelegationError("email", _("Enter the email address of someone else"))
    for entry in delegations_for(session, person_id):
        if entry.email == email and entry.status(now) == "active":
            entry.delegation.revoked_at = now
    helper = find_person_by_email(session, email)
    delegation = Delegation(
        id=str(uuid.uuid4()),
        person_id=person_id,
        helper_email=email,
        helper_id=helper.id if helper is not None else None,
        scope=" ".join(words),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(delegation)
    session.flush()
    return delegation


def claim_invitations(session: Session, email: str | None = None) -> None:
    """Give invitations to an email that now has an account to that account (one, or all)."""
    owner = select(Person.id).where(Person.email == Delegation.helper_email).scalar_subquery()
    claim = update(Delegation).where(Delegation.helper_id.is_(None), owner.is_not(None))
    if email is not None:
        claim = claim.where(Delegation.helper_email == normalise_email(email))
    fetch = {"synchronize_session": "fetch"}  # the session may hold these delegations
    session.execute(claim.values(helper_id=owner), execution_options=fetch)


def revoke_delegation(
    session: Session, *, person_id: str, delegation_id: str, now: datetime
) -> Delegation | None:
    """End a delegation person_id granted; None when they granted no such delegation."""
    delegation = session.get(Delegation, delegation_id)
    if delegation is None or delegation.person_id != person_id:
        return None
    if delegation.revoked_at is None:
        delegation.revoked_at = now
    return delegation


def active_delegation(
    session: Session, helper_id: str, person_id: str, scope: str, now: datetime
) -> Delegation | None:
    """The delegation that lets helper_id act for person_id within scope at now, if any."""
    candidates = session.scalars(
        select(Delegation).where(
            Delegation.helper_id == helper_id,
            Delegation.person_id == person_id,
            Delegation.revoked_at.is_(None),
            Delegation.expires_at > now,
        )
    )
    return next((d for d in candidates if scope in d.scope.split()), None)


def delegations_for(session: Session, person_id: str) -> list[Invitation]:
    """Every delegation person_id has granted, newest first, each helper only by email."""
    rows = session.scalars(
        select(Delegation)
        .where(Delegation.person_id == person_id)
        .order_by(Delegation.created_at.desc(), Delegation.id)
    )
    return [Invitation(delegation) for delegation in rows]


def delegations_of_helper(
    session: Session, helper_id: str, *, scope: str | None = None, now: datetime | None = None
) -> list[DelegationEntry]:
    """The delegations helper_id holds, with each person helped; only active ones at now."""
    person = aliased(Person)
    query = (
        select(Delegation, person)
        .join(person, person.id == Delegation.person_id)
        .where(Delegation.helper_id == helper_id)
        .order_by(person.display_name, Delegation.id)
    )
    if now is not None:
        query = query.where(Delegation.revoked_at.is_(None), Delegation.expires_at > now)
    entries = [DelegationEntry(d, other) for d, other in session.execute(query)]
    if scope is not None:
        entries = [e for e in entries if scope in e.scopes]
    return entries


# --- pseudonyms -----------------------------------------------------------------------------


@functools.cache
def _secret_in(directory: Path) -> bytes:
    return load_or_create_secret(directory)


def pseudonym_secret(node: NodeRuntime) -> bytes:
    """The charter's pseudonym secret (data_dir/pseudonym.key), read once per process."""
    return _secret_in(node.settings.data_dir)


def pseudonym_for(
    node: NodeRuntime,
    member_id: str,
    person_id: str,
    *,
    session: Session | None = None,
    record: bool = False,
) -> str:
    """member_id's pseudonym for person_id; with record=True also kept to map it back."""
    value = pseudonym(pseudonym_secret(node), member_id, person_id)
    if record:
        if session is None:
            with node.sessions.begin() as own:
                record_pseudonym(own, member_id, value, person_id)
        else:
            record_pseudonym(session, member_id, value, person_id)
    return value


def record_pseudonym(
    session: Session, member_id: str, value: str, person_id: str, now: datetime | None = None
) -> None:
    """Keep that member_id knows person_id as value; doing it again changes nothing."""
    values: dict[str, Any] = {
        "member_id": member_id,
        "pseudonym": value,
        "person_id": person_id,
        "issued_at": now or datetime.now(UTC),
    }
    # One statement that ignores a duplicate, so two sign-ins at once cannot collide.
    insert = dialect_insert(session.get_bind().dialect.name)
    session.execute(insert(IssuedPseudonym).values(**values).on_conflict_do_nothing())


def person_for_pseudonym(session: Session, member_id: str, value: str) -> str | None:
    """The person member_id knows as value, when the charter issued that pseudonym."""
    return session.scalar(
        select(IssuedPseudonym.person_id).where(
            IssuedPseudonym.member_id == member_id, IssuedPseudonym.pseudonym == value
        )
    )
