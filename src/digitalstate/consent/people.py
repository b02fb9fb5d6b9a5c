"""What the consent feature asks of the identity feature: names, pseudonyms, delegations.

One place for the calls into digitalstate.identity, so that the consent use cases take plain
callables and values and can be read without the identity package open beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.identity import service as identity
from digitalstate.identity.models import Delegation, Person
from digitalstate.node.runtime import NodeRuntime

CONSENT_SCOPE = "consent"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts on a consent: the person it is about, and the signed-in person acting."""

    person_id: str  # the person the consent is about
    signed_in: str  # the person at the keyboard: the same person, or their helper
    delegation_id: str | None = None
    person_name: str = ""
    helper_name: str | None = None

    @property
    def is_helper(self) -> bool:
        """True when a helper acts for the person under a delegation."""
        return self.delegation_id is not None

    @property
    def by(self) -> str:
        """How a consent event names the actor: person or helper."""
        return "helper" if self.is_helper else "person"


def pseudonym_of(node: NodeRuntime, member_id: str, person_id: str) -> str:
    """The pseudonym of person_id at member_id (computed, not recorded)."""
    return identity.pseudonym_for(node, member_id, person_id)


def person_for_pseudonym(session: Session, member_id: str, pseudonym: str) -> str | None:
    """The person a member knows by pseudonym, if the charter issued it."""
    return identity.person_for_pseudonym(session, member_id, pseudonym)


def display_name(session: Session, person_id: str) -> str:
    """The name a person goes by, or '' for an unknown id."""
    person = session.get(Person, person_id)
    return person.display_name if person is not None else ""


def actor_for(session: Session, *, person_id: str, signed_in: str, now: datetime) -> Actor | None:
    """The actor when signed_in may act on person_id's consents, or None."""
    if person_id == signed_in:
        return Actor(person_id, signed_in, person_name=display_name(session, person_id))
    delegation = identity.active_delegation(
        session, person_id=person_id, helper_id=signed_in, scope=CONSENT_SCOPE, now=now
    )
    if delegation is None:
        return None
    return Actor(
        person_id,
        signed_in,
        delegation_id=delegation.id,
        person_name=display_name(session, person_id),
        helper_name=display_name(session, signed_in),
    )


def people_helped(session: Session, *, helper_id: str, now: datetime) -> list[str]:
    """The people who let helper_id act on their consents, now."""
    rows = session.scalars(
        select(Delegation).where(
            Delegation.helper_id == helper_id,
            Delegation.revoked_at.is_(None),
            Delegation.expires_at > now,
        )
    )
    return sorted({row.person_id for row in rows if CONSENT_SCOPE in row.scope.split()})
