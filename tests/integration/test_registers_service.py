"""A register's use cases on SQLite and PostgreSQL: read, change, tell, and record accesses."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.federation.catalogue import load_catalogue
from digitalstate.registers import service
from digitalstate.registers.domain import FieldError
from digitalstate.registers.models import OutboxMessage, RegisterRecord
from digitalstate.registers.service import (
    RecordNotFoundError,
    change_fields,
    held_fields,
    read_fields,
    services_to_tell,
    told_about,
)
from digitalstate.transparency.entries import LogEntry
from digitalstate.transparency.store import entries_for, record_access
from integration.registers_support import (
    ADDRESS,
    NEW_ADDRESS,
    NOW,
    OTHER_PERSON,
    PERSON,
    add_consent,
    add_record,
    federation,
)

Sessions = sessionmaker[Session]
FIELDS = load_catalogue().fields


def outbox(sessions: Sessions) -> list[OutboxMessage]:
    with sessions.begin() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def record_of(sessions: Sessions, pseudonym: str = PERSON) -> RegisterRecord:
    with sessions.begin() as session:
        record = session.get(RegisterRecord, pseudonym)
        assert record is not None
        return record


def test_a_register_holds_the_fields_the_catalogue_gives_it() -> None:
    document = federation()
    names = [f.name for f in held_fields(document, "people-register")]
    assert names == [
        "people.given_names",
        "people.family_name",
        "people.date_of_birth",
        "people.address",
        "people.email",
        "people.phone",
    ]
    assert [f.name for f in held_fields(document, "prisons")] == []


def test_reading_returns_exactly_the_fields_asked_and_the_version(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
    with sessions.begin() as session:
        values, version = read_fields(session, PERSON, ["people.address", "people.email"])
    assert values == {"people.address": ADDRESS, "people.email": None}
    assert version == 1


def test_reading_a_person_without_a_record_raises(sessions: Sessions) -> None:
    with sessions.begin() as session, pytest.raises(RecordNotFoundError):
        read_fields(session, OTHER_PERSON, ["people.address"])


def test_a_change_writes_the_record_and_a_notice_for_each_consent_that_asked(
    sessions: Sessions,
) -> None:
    with sessions.begin() as session:
        add_record(session)
        told = add_consent(session, granted_at=NOW - timedelta(days=20))
        also_told = add_consent(session, requester="newcastle-tax", fields=("people.address",))
        add_consent(session, requester="prisons", fields=("people.date_of_birth",))
        add_consent(session, requester="swansea-motoring", notify=False)
        add_consent(session, requester="manchester-planning", status="withdrawn")
        add_consent(session, requester="electoral-registration", expires_at=NOW)
        add_consent(session, requester="birmingham-social-care", pseudonym=OTHER_PERSON)
        add_consent(session, requester="opendata", granted_at=NOW + timedelta(seconds=1))

    with sessions.begin() as session:
        version = change_fields(
            session,
            pseudonym=PERSON,
            changes={"people.address": NEW_ADDRESS},
            now=NOW,
            catalogue=FIELDS,
        )

    assert version == 2
    record = record_of(sessions)
    assert record.version == 2
    assert json.loads(record.data)["people.address"] == NEW_ADDRESS
    assert json.loads(record.data)["people.given_names"] == "Alice"
    rows = outbox(sessions)
    assert [(r.consent_id, r.requester) for r in rows] == [
        (told, "liverpool-pensions"),
        (also_told, "newcastle-tax"),
    ]
    for row in rows:
        assert json.loads(row.fields) == ["people.address"]
        assert row.version == 2
        assert row.pseudonym == PERSON
        assert row.attempts == 0
        assert row.delivered_at is None and row.dead_at is None
        assert row.next_attempt_at == NOW
        assert len(row.idempotency_key) == 32 and int(row.idempotency_key, 16) >= 0
    assert rows[0].idempotency_key != rows[1].idempotency_key


def test_a_notice_names_only_the_changed_fields_its_consent_covers(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
        add_consent(session, fields=("people.address", "people.date_of_birth"))
    with sessions.begin() as session:
        change_fields(
            session,
            pseudonym=PERSON,
            changes={"people.address": NEW_ADDRESS, "people.given_names": "Alicia"},
            now=NOW,
            catalogue=FIELDS,
        )
    assert [json.loads(r.fields) for r in outbox(sessions)] == [["people.address"]]


def test_a_change_is_normalised_before_it_is_written(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
    typed = {"lines": [" 4  Quay Street "], "town": "Cardiff", "postcode": "cf101ep"}
    with sessions.begin() as session:
        change_fields(
            session, pseudonym=PERSON, changes={"people.address": typed}, now=NOW, catalogue=FIELDS
        )
    assert json.loads(record_of(sessions).data)["people.address"] == {
        "lines": ["4 Quay Street"],
        "town": "Cardiff",
        "postcode": "CF10 1EP",
    }


def test_the_same_value_again_is_no_change(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
        add_consent(session)
    with sessions.begin() as session:
        version = change_fields(
            session,
            pseudonym=PERSON,
            changes={"people.address": dict(ADDRESS)},
            now=NOW,
            catalogue=FIELDS,
        )
    assert version == 1
    assert record_of(sessions).version == 1
    assert outbox(sessions) == []


def test_an_invalid_value_changes_nothing(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
        add_consent(session)
    bad = {**NEW_ADDRESS, "postcode": "CF10"}
    with pytest.raises(FieldError, match="Enter a real postcode"), sessions.begin() as session:
        change_fields(
            session, pseudonym=PERSON, changes={"people.address": bad}, now=NOW, catalogue=FIELDS
        )
    assert record_of(sessions).version == 1
    assert outbox(sessions) == []


def test_a_field_outside_the_catalogue_is_refused(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
    with pytest.raises(FieldError, match="not a field"), sessions.begin() as session:
        change_fields(
            session, pseudonym=PERSON, changes={"people.shoe_size": "9"}, now=NOW, catalogue=FIELDS
        )


def test_changing_a_person_without_a_record_raises(sessions: Sessions) -> None:
    with pytest.raises(RecordNotFoundError), sessions.begin() as session:
        change_fields(
            session,
            pseudonym=OTHER_PERSON,
            changes={"people.address": NEW_ADDRESS},
            now=NOW,
            catalogue=FIELDS,
        )


def test_a_failure_writing_the_notices_rolls_back_the_change_too(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions.begin() as session:
        add_record(session)
        add_consent(session)
        add_consent(session, requester="newcastle-tax")
    # Two notices with one idempotency key: the second insert breaks the unique constraint.
    same = uuid.UUID(int=7)
    monkeypatch.setattr(service.uuid, "uuid4", lambda: same)

    with pytest.raises(IntegrityError), sessions.begin() as session:
        change_fields(
            session,
            pseudonym=PERSON,
            changes={"people.address": NEW_ADDRESS},
            now=NOW,
            catalogue=FIELDS,
        )

    record = record_of(sessions)
    assert record.version == 1
    assert json.loads(record.data)["people.address"] == ADDRESS
    assert outbox(sessions) == []


def test_a_failure_after_the_change_in_the_same_transaction_leaves_no_trace(
    sessions: Sessions,
) -> None:
    with sessions.begin() as session:
        add_record(session)
        add_consent(session)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        change_fields(
            session,
            pseudonym=PERSON,
            changes={"people.address": NEW_ADDRESS},
            now=NOW,
            catalogue=FIELDS,
        )
        raise RuntimeError("the caller fails before committing")
    assert record_of(sessions).version == 1
    assert outbox(sessions) == []


def test_the_page_can_say_beforehand_which_services_will_be_told(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
        first = add_consent(session, granted_at=NOW - timedelta(days=20))
        second = add_consent(session, requester="newcastle-tax", fields=("people.address",))
        add_consent(session, requester="prisons", fields=("people.date_of_birth",))
        add_consent(session, requester="swansea-motoring", notify=False)
    with sessions.begin() as session:
        consents = services_to_tell(session, PERSON, ["people.address"], NOW)
        assert [c.id for c in consents] == [first, second]
        assert services_to_tell(session, OTHER_PERSON, ["people.address"], NOW) == []


def test_the_page_can_say_afterwards_who_was_told_and_when(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
        consent = add_consent(session, granted_at=NOW - timedelta(days=20))
        add_consent(session, requester="newcastle-tax", fields=("people.address",))
    with sessions.begin() as session:
        version = change_fields(
            session,
            pseudonym=PERSON,
            changes={"people.address": NEW_ADDRESS},
            now=NOW,
            catalogue=FIELDS,
        )
    with sessions.begin() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.consent_id == consent))
        row.one().delivered_at = NOW + timedelta(seconds=1)

    with sessions.begin() as session:
        told = told_about(session, PERSON, version)
        assert told_about(session, PERSON, 1) == []
    assert [(t.requester, t.delivered_at, t.dead) for t in told] == [
        ("liverpool-pensions", NOW + timedelta(seconds=1), False),
        ("newcastle-tax", None, False),
    ]
    assert told[0].fields == ("people.address",)


def test_change_fields_checks_against_the_catalogue_given(sessions: Sessions) -> None:
    with sessions.begin() as session:
        add_record(session)
    fields = [f for f in load_catalogue(None).fields if f.name != "people.address"]
    with pytest.raises(FieldError, match="not a field"), sessions.begin() as session:
        change_fields(
            session,
            pseudonym=PERSON,
            changes={"people.address": NEW_ADDRESS},
            now=NOW,
            catalogue=fields,
        )


# log entries -------------------------------------------------------------------------------


def test_log_entries_about_a_person_are_listed_newest_first(sessions: Sessions) -> None:
    with sessions.begin() as session:
        for minutes, action in ((0, "read"), (2, "refused"), (1, "basis-read")):
            record_access(
                session,
                holder="people-register",
                pseudonym=PERSON,
                requester="liverpool-pensions",
                action=action,
                outcome="allowed" if action != "refused" else "refused",
                now=NOW + timedelta(minutes=minutes),
                purpose="pension-administration",
                fields=("people.address",),
                reason=f"because {action}",
            )
        record_access(
            session,
            holder="people-register",
            pseudonym=OTHER_PERSON,
            requester="prisons",
            action="read",
            outcome="allowed",
            now=NOW,
        )
    with sessions.begin() as session:
        stored = entries_for(session, PERSON)
    entries = [LogEntry.decode(s.body) for s in stored]
    # Newest first is the order they were logged in, whatever time each one states.
    assert [e.action for e in entries] == ["basis-read", "refused", "read"]
    assert all(s.leaf_index is None for s in stored)  # pending until the sequencer runs
    refused = entries[1]
    assert refused.at == NOW + timedelta(minutes=2)
    assert refused.fields == ("people.address",)
    assert refused.reason == "because refused"
    assert refused.purpose == "pension-administration"
    assert len({e.salt for e in entries}) == 3  # each entry salted afresh


def test_an_unknown_access_action_is_a_programming_error(sessions: Sessions) -> None:
    with pytest.raises(ValueError, match="unknown access action"), sessions.begin() as session:
        record_access(
            session,
            holder="people-register",
            pseudonym=PERSON,
            requester="x",
            action="peeked",
            outcome="allowed",
            now=NOW,
        )
    with sessions.begin() as session:
        assert entries_for(session, PERSON) == []
