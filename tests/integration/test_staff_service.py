"""Staff accounts and the log entries of staff actions, in the database (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.identity.service import hash_password, verify_password
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.models import StaffAccount
from digitalstate.staff.service import (
    SIGNED_IN,
    StaffError,
    active_member,
    add_staff,
    disable_staff,
    enable_staff,
    find_staff,
    list_staff,
    record_staff_action,
    set_role,
)
from digitalstate.transparency.entries import NO_ONE, LogEntry, is_about
from digitalstate.transparency.store import entries_for
from digitalstate.web.session_store import KIND_STAFF, SqlSessionStore

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
HOLDER = "liverpool-pensions"
JO = "jo@pensions.example.org"


def add(db: Session, email: str = JO, role: str = "caseworker") -> StaffAccount:
    return add_staff(
        db,
        email=email,
        display_name=" Jo Bloggs ",
        role=role,
        password_hash=hash_password("tangerine otter copper lantern"),
        now=NOW,
    )


def test_an_account_is_kept_normalised_and_found_by_any_case(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        made = add(db, email="  Jo@Pensions.Example.ORG ")
    with sessions.begin() as db:
        found = find_staff(db, "JO@pensions.example.org")
        assert found is not None and found.id == made.id
        assert (found.email, found.display_name, found.role) == (JO, "Jo Bloggs", "caseworker")
        assert found.created_at == NOW and found.disabled_at is None
        assert verify_password(found.password_hash, "tangerine otter copper lantern")
        assert found.password_hash.startswith("$argon2id$")


def test_an_email_address_has_one_account(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        add(db)
    with sessions.begin() as db, pytest.raises(StaffError, match="exists already"):
        add(db, email=JO.upper(), role="manager")


def test_the_database_refuses_a_role_that_is_none_of_the_two(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        account = add(db)
    with pytest.raises(IntegrityError), sessions.begin() as db:
        db.get(StaffAccount, account.id).role = "admin"  # type: ignore[union-attr]
    with sessions.begin() as db, pytest.raises(StaffError, match="not a role"):
        add(db, email="x@pensions.example.org", role="admin")


def test_disabling_ends_every_live_session_of_the_account_only(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        jo, other = add(db).id, add(db, email="sam@pensions.example.org").id
    hour = timedelta(hours=1)
    store = SqlSessionStore(sessions, idle=hour, absolute=hour, kinds={KIND_STAFF})
    first, second, others = (store.start(KIND_STAFF, who) for who in (jo, jo, other))

    with sessions.begin() as db:
        _, ended = disable_staff(db, JO, datetime.now(UTC))
        assert active_member(db, jo) is None

    assert ended == 2
    assert store.find(first) is None and store.find(second) is None
    assert store.find(others) is not None
    with sessions.begin() as db:
        enable_staff(db, JO)
        assert active_member(db, jo) == StaffMember(jo, JO, "Jo Bloggs", "caseworker")


def test_a_role_changes_and_every_account_is_listed_by_email(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        add(db, email="zoe@pensions.example.org")
        add(db)
        set_role(db, JO, "manager")
    with sessions.begin() as db:
        assert [(a.email, a.role) for a in list_staff(db)] == [
            (JO, "manager"),
            ("zoe@pensions.example.org", "caseworker"),
        ]
        with pytest.raises(StaffError, match=r"no staff account has the email address nob@x\.org"):
            set_role(db, "nob@x.org", "manager")


def test_a_staff_action_about_a_person_is_filed_under_their_pseudonym(
    sessions: sessionmaker[Session],
) -> None:
    jo = StaffMember("5f2d", JO, "Jo Bloggs", "caseworker")
    with sessions.begin() as db:  # the case pages' actions come later: any staff action will do
        about = record_staff_action(
            db,
            jo,
            SIGNED_IN,
            holder=HOLDER,
            now=NOW,
            subject="p" * 32,
            detail="x" * 600,
            purpose="pension-administration",
            fields=["people.address"],
        )
        nobody = record_staff_action(db, jo, SIGNED_IN, holder=HOLDER, now=NOW)

    with sessions.begin() as db:
        stored = entries_for(db, "p" * 32)
        assert [LogEntry.decode(s.body) for s in stored] == [about]
        assert [LogEntry.decode(s.body) for s in entries_for(db, NO_ONE)] == [nobody]
    assert (about.requester, about.holder, about.purpose, about.fields) == (
        "staff:5f2d",
        HOLDER,
        "pension-administration",
        ("people.address",),
    )
    assert len(about.reason) == 500
    assert is_about(nobody.encode(), NO_ONE) and not is_about(nobody.encode(), "p" * 32)


def test_only_a_staff_action_is_recorded_as_one(sessions: sessionmaker[Session]) -> None:
    jo = StaffMember("5f2d", JO, "Jo Bloggs", "caseworker")
    with sessions.begin() as db, pytest.raises(ValueError, match="not a staff action"):
        record_staff_action(db, jo, "read", holder=HOLDER, now=NOW, subject="p" * 32)


def test_peoples_store_starts_no_staff_session_and_the_staff_store_no_persons(
    sessions: sessionmaker[Session],
) -> None:
    hour = timedelta(hours=1)
    people = SqlSessionStore(sessions, idle=hour, absolute=hour)
    staff = SqlSessionStore(sessions, idle=hour, absolute=hour, kinds={KIND_STAFF})
    with pytest.raises(ValueError, match="not 'staff'"):
        people.start(KIND_STAFF, "5f2d")
    with pytest.raises(ValueError, match="not 'person'"):
        staff.start("person", "5f2d")
