"""The identity use cases on SQLite and PostgreSQL: people, sign-in, delegations, pseudonyms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.identity.models import IssuedPseudonym
from digitalstate.identity.service import (
    DelegationError,
    active_delegation,
    authenticate,
    create_person,
    delegations_for,
    delegations_of_helper,
    find_person_by_email,
    grant_delegation,
    hash_password,
    person_for_pseudonym,
    record_pseudonym,
    revoke_delegation,
)

from .identity_support import PASSWORD, PASSWORD_HASH

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


@pytest.fixture
def people(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions.begin() as session:
        return {
            name: create_person(
                session,
                email=f"{name}@example.test",
                display_name=name.title(),
                password_hash=PASSWORD_HASH,
                now=NOW,
            ).id
            for name in ("alice", "bob", "carol")
        }


def grant(session: Session, person: str, helper_email: str, scope: str = "consent") -> str:
    return grant_delegation(
        session,
        person_id=person,
        helper_email=helper_email,
        scope=scope,
        expires_at=LATER,
        now=NOW,
    ).id


def test_a_person_is_kept_with_a_lower_case_email_and_a_fresh_id(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        person = create_person(
            session,
            email=" Dana@Example.TEST ",
            display_name="Dana",
            password_hash=PASSWORD_HASH,
            now=NOW,
        )
    assert person.email == "dana@example.test"
    assert len(person.id) == 36
    assert person.level_of_assurance == "low"
    with sessions.begin() as session:
        found = find_person_by_email(session, "DANA@example.test")
        assert found is not None
        assert found.id == person.id


def test_two_people_cannot_share_an_email_address(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as session:
        create_person(
            session,
            email="ALICE@example.test",
            display_name="Another Alice",
            password_hash=PASSWORD_HASH,
            now=NOW,
        )


def test_authenticate_needs_the_right_password(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with sessions.begin() as session:
        person = authenticate(session, "alice@example.test", PASSWORD)
        assert person is not None
        assert person.id == people["alice"]
        assert authenticate(session, "alice@example.test", "wrong") is None
        assert authenticate(session, "nobody@example.test", PASSWORD) is None


def test_a_corrupt_stored_hash_never_authenticates(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        create_person(
            session, email="e@example.test", display_name="E", password_hash="garbage", now=NOW
        )
        assert authenticate(session, "e@example.test", "garbage") is None
        assert hash_password("x") != hash_password("x")  # salted


def test_a_delegation_lets_the_helper_act_within_its_scope_until_it_ends(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    alice, bob = people["alice"], people["bob"]
    with sessions.begin() as session:
        grant(session, alice, "BOB@example.test", scope="consent")
    with sessions.begin() as session:
        assert active_delegation(session, bob, alice, "consent", NOW) is not None
        assert active_delegation(session, bob, alice, "sign-in", NOW) is None
        assert active_delegation(session, alice, bob, "consent", NOW) is None
        assert active_delegation(session, bob, alice, "consent", LATER) is None


def test_a_revoked_delegation_stops_at_once(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    alice, bob = people["alice"], people["bob"]
    with sessions.begin() as session:
        delegation_id = grant(session, alice, "bob@example.test")
    with sessions.begin() as session:
        revoked = revoke_delegation(session, person_id=alice, delegation_id=delegation_id, now=NOW)
        assert revoked is not None
    with sessions.begin() as session:
        assert active_delegation(session, bob, alice, "consent", NOW) is None
        (entry,) = delegations_for(session, alice)
        assert entry.status(NOW) == "revoked"


def test_only_the_person_who_granted_a_delegation_can_revoke_it(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with sessions.begin() as session:
        delegation_id = grant(session, people["alice"], "bob@example.test")
    with sessions.begin() as session:
        assert (
            revoke_delegation(
                session, person_id=people["bob"], delegation_id=delegation_id, now=NOW
            )
            is None
        )
        assert (
            revoke_delegation(session, person_id=people["bob"], delegation_id="x", now=NOW) is None
        )
        assert active_delegation(session, people["bob"], people["alice"], "consent", NOW)


def test_granting_again_replaces_the_helpers_earlier_delegation(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    alice, bob = people["alice"], people["bob"]
    with sessions.begin() as session:
        grant(session, alice, "bob@example.test", scope="consent")
        grant(session, alice, "bob@example.test", scope="sign-in")
    with sessions.begin() as session:
        statuses = sorted(e.status(NOW) for e in delegations_for(session, alice))
        assert statuses == ["active", "revoked"]
        assert active_delegation(session, bob, alice, "consent", NOW) is None
        assert active_delegation(session, bob, alice, "sign-in", NOW) is not None


def test_the_people_a_helper_acts_for_are_listed_with_their_names(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with sessions.begin() as session:
        grant(session, people["alice"], "carol@example.test", scope="consent sign-in")
        grant(session, people["bob"], "carol@example.test", scope="consent")
    with sessions.begin() as session:
        everyone = delegations_of_helper(session, people["carol"], now=NOW)
        signing_in = delegations_of_helper(session, people["carol"], scope="sign-in", now=NOW)
        after_the_end = delegations_of_helper(session, people["carol"], now=LATER)
    assert [e.other.display_name for e in everyone] == ["Alice", "Bob"]
    assert [e.other.id for e in signing_in] == [people["alice"]]
    assert everyone[0].scopes == {"consent", "sign-in"}
    assert after_the_end == []


def test_an_invitation_to_an_address_without_an_account_is_kept_and_grants_nothing(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with sessions.begin() as session:
        grant(session, people["alice"], " Dora@Example.TEST ")
    with sessions.begin() as session:
        (entry,) = delegations_for(session, people["alice"])
        assert (entry.email, entry.delegation.helper_id) == ("dora@example.test", None)
        assert entry.status(NOW) == "active"
        assert delegations_of_helper(session, people["bob"], now=NOW) == []


def test_an_invitation_takes_effect_when_an_account_with_its_email_is_created(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with sessions.begin() as session:
        grant(session, people["alice"], "dora@example.test")
    with sessions.begin() as session:
        dora = create_person(
            session,
            email="Dora@example.test",
            display_name="Dora",
            password_hash=PASSWORD_HASH,
            now=NOW,
        ).id
    with sessions.begin() as session:
        assert active_delegation(session, dora, people["alice"], "consent", NOW) is not None
        (entry,) = delegations_of_helper(session, dora, now=NOW)
        assert entry.other.display_name == "Alice"


def test_an_invitation_to_an_address_without_an_account_is_revoked_like_any_other(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with sessions.begin() as session:
        first = grant(session, people["alice"], "dora@example.test")
        grant(session, people["alice"], "dora@example.test", scope="sign-in")
    with sessions.begin() as session:
        assert (
            revoke_delegation(session, person_id=people["bob"], delegation_id=first, now=NOW)
            is None
        )
        statuses = sorted(e.status(NOW) for e in delegations_for(session, people["alice"]))
        assert statuses == ["active", "revoked"]
        (active,) = [
            e for e in delegations_for(session, people["alice"]) if e.status(NOW) == "active"
        ]
        revoke_delegation(
            session, person_id=people["alice"], delegation_id=active.delegation.id, now=NOW
        )
        assert active.status(NOW) == "revoked"


@pytest.mark.parametrize(
    ("email", "scope", "expires_at", "field", "message"),
    [
        ("", "consent", LATER, "email", "Enter the email address"),
        ("alice@example.test", "consent", LATER, "email", "someone else"),
        (" Alice@Example.test", "consent", LATER, "email", "someone else"),
        ("bob", "consent", LATER, "email", "in the correct format"),
        ("bob@", "consent", LATER, "email", "in the correct format"),
        ("bob @example.test", "consent", LATER, "email", "in the correct format"),
        ("b" * 310 + "@example.test", "consent", LATER, "email", "in the correct format"),
        ("bob@example.test", "", LATER, "scope", "Select what they can do"),
        ("bob@example.test", "consent everything", LATER, "scope", "Unknown kind of help"),
        ("bob@example.test", "consent", NOW, "expires", "must be in the future"),
    ],
)
def test_a_delegation_that_makes_no_sense_is_refused_naming_the_field(
    sessions: sessionmaker[Session],
    people: dict[str, str],
    email: str,
    scope: str,
    expires_at: datetime,
    field: str,
    message: str,
) -> None:
    with sessions.begin() as session:
        with pytest.raises(DelegationError) as refused:
            grant_delegation(
                session,
                person_id=people["alice"],
                helper_email=email,
                scope=scope,
                expires_at=expires_at,
                now=NOW,
            )
        assert refused.value.field == field
        assert message in refused.value.message
        assert delegations_for(session, people["alice"]) == []


def test_recording_a_pseudonym_twice_keeps_one_row(
    sessions: sessionmaker[Session], people: dict[str, str]
) -> None:
    with sessions.begin() as session:
        record_pseudonym(session, "liverpool-pensions", "p" * 32, people["alice"], NOW)
    with sessions.begin() as session:
        record_pseudonym(session, "liverpool-pensions", "p" * 32, people["alice"], LATER)
    with sessions.begin() as session:
        count = session.scalar(select(func.count()).select_from(IssuedPseudonym))
        assert count == 1
        assert person_for_pseudonym(session, "liverpool-pensions", "p" * 32) == people["alice"]
        assert person_for_pseudonym(session, "newcastle-tax", "p" * 32) is None
        assert person_for_pseudonym(session, "liverpool-pensions", "q" * 32) is None
