"""Consent use cases on SQLite and PostgreSQL: requests, agreement, withdrawal, expiry, copies."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from log_support import logged_entries
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.consent import holder as holding
from digitalstate.consent import service
from digitalstate.consent.models import Consent, ConsentEvent, ConsentRequest, HeldConsent
from digitalstate.consent.people import Actor
from digitalstate.consent.records import (
    ConsentRecord,
    RecordRefusedError,
    sign_record,
    verify_record,
    with_status,
)
from digitalstate.consent.service import RequestInvalidError, RequestUnavailableError, Signer
from digitalstate.identity.service import create_person
from digitalstate.keys import KeyPair
from digitalstate.storage.engine import make_engine, make_sessions
from integration.consent_support import federation_document, peer_members
from support.federation import member

CHARTER_KEY = KeyPair.from_seed(bytes(range(7, 39)))
REGISTER_KEY = KeyPair.from_seed(bytes(range(39, 71)))
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SIGNER = Signer("charter", CHARTER_KEY)
FEDERATION = federation_document(
    (
        member(
            "charter",
            CHARTER_KEY,
            name="Charter",
            roles=("charter",),
            base_url="http://charter.test",
        ),
        member("people-register", REGISTER_KEY, name="People register"),
        member(
            "prisons",
            REGISTER_KEY,
            name="Prisons",
            roles=("service",),
            base_url="http://prisons.test",
        ),
        member("opendata", REGISTER_KEY, name="Open data", roles=("opendata",)),
        *peer_members(),
    )
)
GOOD: dict[str, Any] = {
    "requester": "liverpool-pensions",
    "subject": "pensions-pseudonym",
    "holder": "people-register",
    "fields": ["people.address", "people.date_of_birth"],
    "purpose": "pension-administration",
    "duration_days": 365,
    "notify": True,
    "return_url": "http://127.0.0.1:9/consent/done",
}


def ask(session: Session, **changes: Any) -> ConsentRequest:
    return service.create_request(session, **{**GOOD, **changes}, federation=FEDERATION, now=NOW)


def a_person(session: Session, email: str = "ada@example.org", name: str = "Ada") -> str:
    return create_person(session, email=email, display_name=name, password_hash="x", now=NOW).id


def give(sessions: sessionmaker[Session], actor: Actor | None = None) -> Consent:
    """Ask, agree and store a consent for a new person (or actor's person)."""
    with sessions.begin() as session:
        if actor is None:
            person = a_person(session)
            actor = Actor(person, person, person_name="Ada")
        request = ask(session)
        return agree_to(session, request, prepared(request, actor), actor)


def prepared(request: ConsentRequest, actor: Actor) -> ConsentRecord:
    """The consent record the charter would sign for actor's agreement to request."""
    terms = service.request_terms(request, FEDERATION, now=NOW)
    issuer = FEDERATION.member("charter")
    assert issuer is not None
    return service.prepare_consent(
        terms, actor=actor, issuer=issuer, pseudonyms=("p-req", "p-hold"), now=NOW
    )


def agree_to(
    session: Session, request: ConsentRequest, record: ConsentRecord, actor: Actor
) -> Consent:
    """Store actor's agreement to request as record, signed."""
    return service.store_consent(
        session, request=request, record=record, envelope=SIGNER.sign(record), actor=actor, now=NOW
    )


# --- requests ------------------------------------------------------------------------------


def test_a_valid_request_is_kept_for_thirty_minutes(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        request_id = ask(session).id
    with sessions.begin() as session:
        kept = service.open_request(session, request_id, now=NOW + timedelta(minutes=29))
        assert json.loads(kept.fields) == GOOD["fields"]
        with pytest.raises(RequestUnavailableError) as caught:
            service.open_request(session, request_id, now=NOW + timedelta(minutes=30))
    assert caught.value.kind == "expired"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"holder": "prisons"}, "not a register"),
        ({"holder": "nobody"}, "not a register"),
        ({"fields": ["pensions.bank_details"]}, "people-register is not the register of"),
        ({"fields": ["people.shoe_size"]}, "not in the field catalogue"),
        ({"fields": []}, "at least one field"),
        ({"fields": ["people.address", "people.address"]}, "more than once"),
        ({"purpose": "marketing"}, "not in the purpose catalogue"),
        ({"duration_days": 0}, "from 1 to 3650"),
        ({"duration_days": 3651}, "from 1 to 3650"),
        ({"return_url": "http://evil.test/consent/done"}, "must start with http://127.0.0.1:9/"),
        ({"return_url": "http://127.0.0.1:9"}, "must start with"),
        ({"return_url": "http://127.0.0.1:99/x"}, "must start with"),
        ({"requester": "opendata"}, "neither the service nor the register role"),
        ({"requester": "stranger"}, "not a current member"),
        ({"subject": ""}, "subject must be"),
    ],
)
def test_a_request_the_catalogues_do_not_allow_is_refused_with_the_reason(
    sessions: sessionmaker[Session], changes: dict[str, Any], reason: str
) -> None:
    with sessions.begin() as session, pytest.raises(RequestInvalidError, match=reason):
        ask(session, **changes)
    with sessions.begin() as session:
        assert session.scalars(select(ConsentRequest)).all() == []


def test_an_unknown_request_is_unavailable(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session, pytest.raises(RequestUnavailableError) as caught:
        service.open_request(session, "no-such-request", now=NOW)
    assert caught.value.kind == "unknown"


def test_the_screen_terms_come_from_the_catalogue(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        terms = service.request_terms(ask(session), FEDERATION, now=NOW)
    assert terms.requester.name == "Liverpool: pensions"
    assert terms.holder.name == "People register"
    assert [f.description for f in terms.fields] == [
        "Home address in UK form, with a validated postcode",
        "Date of birth",
    ]
    assert terms.purpose.wording.startswith("Liverpool pensions uses your address")
    assert terms.until == NOW + timedelta(days=365)


# --- agreement, withdrawal, expiry ---------------------------------------------------------


def test_an_agreed_consent_is_stored_with_its_signed_record_and_first_event(
    sessions: sessionmaker[Session],
) -> None:
    consent = give(sessions)

    with sessions.begin() as session:
        stored = session.get(Consent, consent.id)
        assert stored is not None
        assert stored.status == "active"
        assert stored.holder_synced_at is not None
        record = verify_record(json.loads(stored.record), [CHARTER_KEY.public], signer="charter")
        assert record.consent_id == consent.id
        assert record.pii_principal.holder_pseudonym == "p-hold"
        request = session.scalars(select(ConsentRequest)).one()
        assert request.consent_id == consent.id
        assert request.decided_at is not None
        events = service.events_of(session, consent.id)
        assert [(e.status, e.by) for e in events] == [("active", "person")]
        with pytest.raises(RequestUnavailableError) as caught:
            service.open_request(session, request.id, now=NOW)
    assert caught.value.kind == "decided"


def test_two_answers_at_once_at_two_workers_close_the_request_once(
    sessions: sessionmaker[Session], migrated_database_url: str
) -> None:
    """Two workers (two engines) both read the request open, then answer: one answer counts.

    Neither takes the row lock here (the screen's read takes none): the closing UPDATE alone
    decides, on SQLite as on PostgreSQL.
    """
    with sessions.begin() as session:
        actor = Actor(a_person(session), a_person(session, "bo@example.org"), person_name="Ada")
        request_id = ask(session).id
    other = make_engine(migrated_database_url)
    barrier = threading.Barrier(2)

    def answer(factory: sessionmaker[Session], agree: bool) -> str:
        with factory.begin() as session:
            request = service.open_request(session, request_id, now=NOW)
            record = prepared(request, actor)
            barrier.wait(10)
            try:
                if agree:
                    agree_to(session, request, record, actor)
                else:
                    service.refuse_request(session, request, now=NOW)
            except RequestUnavailableError as exc:
                return exc.kind
            return "agreed" if agree else "refused"

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(answer, (sessions, make_sessions(other)), (True, True)))
    finally:
        other.dispose()

    assert outcomes == ["agreed", "decided"]
    with sessions.begin() as session:
        [consent] = session.scalars(select(Consent)).all()
        request = session.get(ConsentRequest, request_id)
        assert request is not None and request.consent_id == consent.id


def test_two_answers_at_once_at_two_workers_push_one_copy(
    sessions: sessionmaker[Session], migrated_database_url: str
) -> None:
    """The screen holds the request for its consent id before its copy goes to the register:
    of two answers at once at two workers, the loser is told "answered" before pushing, so the
    register never holds a copy the charter has no consent for."""
    with sessions.begin() as session:
        request_id = ask(session).id
    other = make_engine(migrated_database_url)
    barrier = threading.Barrier(2)

    def reserve(factory: sessionmaker[Session], consent_id: str) -> str:
        with factory.begin() as session:
            service.open_request(session, request_id, now=NOW)
            barrier.wait(10)
            try:
                service.reserve_request(session, request_id, consent_id)
            except RequestUnavailableError as exc:
                return exc.kind
            return consent_id

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(reserve, (sessions, make_sessions(other)), ("c-1", "c-2")))
    finally:
        other.dispose()

    [held] = [o for o in outcomes if o != "decided"]  # and the other is "decided"
    with sessions.begin() as session:
        request = session.get(ConsentRequest, request_id)
        assert request is not None and (request.consent_id, request.decided_at) == (held, None)
        with pytest.raises(RequestUnavailableError):  # a refusal, or another answer, loses
            service.refuse_request(session, request, now=NOW)
        with pytest.raises(RequestUnavailableError):
            service.reserve_request(session, request_id, "c-3")


def test_a_request_held_for_a_copy_that_did_not_go_is_released(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        request_id = ask(session).id
        service.reserve_request(session, request_id, "c-1")
    with sessions.begin() as session:
        service.release_request(session, request_id, "c-2")  # not its own: changes nothing
        request = session.get(ConsentRequest, request_id)
        assert request is not None and request.consent_id == "c-1"
        service.release_request(session, request_id, "c-1")
    with sessions.begin() as session:
        service.reserve_request(session, request_id, "c-2")
        request = session.get(ConsentRequest, request_id)
        assert request is not None and request.consent_id == "c-2"


def test_a_consent_given_by_a_helper_says_so_in_the_record_and_history(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        person = a_person(session)
        helper = a_person(session, "sam@example.org", "Sam")
    actor = Actor(person, helper, "delegation-1", person_name="Ada", helper_name="Sam")

    consent = give(sessions, actor)

    record = json.loads(consent.record)["record"]
    assert record["given_by"] == {
        "kind": "helper",
        "helper": "Sam",
        "delegation_id": "delegation-1",
    }
    assert consent.person_id == person
    assert consent.given_by == helper
    with sessions.begin() as session:
        (event,) = service.events_of(session, consent.id)
    assert (event.by, event.detail) == ("helper", "given by Sam for Ada")


def test_withdrawing_re_signs_the_record_and_waits_for_the_holder(
    sessions: sessionmaker[Session],
) -> None:
    consent = give(sessions)
    later = NOW + timedelta(days=3)
    actor = Actor(consent.person_id, consent.person_id)

    with sessions.begin() as session:
        stored = session.get(Consent, consent.id)
        assert stored is not None
        assert service.withdraw(session, stored, actor=actor, signer=SIGNER, now=later)
        assert not service.withdraw(session, stored, actor=actor, signer=SIGNER, now=later)

    with sessions.begin() as session:
        stored = session.get(Consent, consent.id)
        assert stored is not None
        assert service.effective_status(stored, later) == "withdrawn"
        record = verify_record(json.loads(stored.record), [CHARTER_KEY.public])
        assert record.status == "withdrawn"
        assert record.withdrawn_at == later
        assert [c.id for c in service.unconfirmed_withdrawals(session)] == [consent.id]
        service.mark_holder_synced(session, consent.id, now=later)
    with sessions.begin() as session:
        assert service.unconfirmed_withdrawals(session) == []
        events = [(e.status, e.by) for e in service.events_of(session, consent.id)]
    assert events == [("active", "person"), ("withdrawn", "person")]


@pytest.mark.parametrize("other_ends_by", ["withdrawn", "expired"])
def test_two_ends_of_a_consent_at_once_at_two_workers_end_it_once(
    sessions: sessionmaker[Session], migrated_database_url: str, other_ends_by: str
) -> None:
    """Two workers (two engines) both read the consent active, then one withdraws it and the
    other withdraws it too, or expires it: one ends it and writes its event, the other is told
    it was not active (the row as the winner left it)."""
    consent = give(sessions)
    actor = Actor(consent.person_id, consent.person_id)
    other = make_engine(migrated_database_url)
    barrier = threading.Barrier(2)

    def end(factory: sessionmaker[Session], how: str) -> str | None:
        with factory.begin() as session:
            stored = session.get(Consent, consent.id)
            assert stored is not None and stored.status == "active"
            barrier.wait(10)
            if how == "expired":
                ended = (
                    service.expire_due(session, signer=SIGNER, now=NOW + timedelta(days=365)) == 1
                )
            else:
                ended = service.withdraw(session, stored, actor=actor, signer=SIGNER, now=NOW)
            return how if ended else None

    try:
        with ThreadPoolExecutor(2) as pool:
            ends = list(
                pool.map(end, (sessions, make_sessions(other)), ("withdrawn", other_ends_by))
            )
    finally:
        other.dispose()

    [winner] = [how for how in ends if how is not None]
    with sessions.begin() as session:
        events = [e.status for e in service.events_of(session, consent.id)]
        stored = session.get(Consent, consent.id)
        assert stored is not None and stored.status == winner
        assert verify_record(json.loads(stored.record), [CHARTER_KEY.public]).status == winner
    assert events == ["active", winner]


def test_a_consent_past_its_expiry_is_expired_and_marked_so_by_the_system(
    sessions: sessionmaker[Session],
) -> None:
    consent = give(sessions)
    after = NOW + timedelta(days=365)

    with sessions.begin() as session:
        stored = session.get(Consent, consent.id)
        assert stored is not None
        assert service.effective_status(stored, after - timedelta(seconds=1)) == "active"
        assert service.effective_status(stored, after) == "expired"
        assert service.expire_due(session, signer=SIGNER, now=after - timedelta(seconds=1)) == 0
        assert service.expire_due(session, signer=SIGNER, now=after) == 1
    with sessions.begin() as session:
        stored = session.get(Consent, consent.id)
        assert stored is not None
        assert stored.status == "expired"
        assert verify_record(json.loads(stored.record), [CHARTER_KEY.public]).status == "expired"
        last = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
        assert last is not None
        assert (last.status, last.by) == ("expired", "system")
        assert service.expire_due(session, signer=SIGNER, now=after) == 0


# --- the holder's copy ---------------------------------------------------------------------


def signed_copy(sessions: sessionmaker[Session]) -> tuple[Any, dict[str, Any]]:
    consent = give(sessions)
    envelope = json.loads(consent.record)
    return verify_record(envelope, [CHARTER_KEY.public]), envelope


def test_the_holder_keeps_one_copy_and_records_that_it_was_given(
    sessions: sessionmaker[Session],
) -> None:
    record, envelope = signed_copy(sessions)

    with sessions.begin() as session:
        holding.check_copy(record, holder="people-register", now=NOW)
        assert holding.hold_consent(session, record, envelope, now=NOW)
        assert not holding.hold_consent(session, record, envelope, now=NOW)

    with sessions.begin() as session:
        held = session.get(HeldConsent, record.consent_id)
        assert held is not None
        assert (held.requester, held.holder_pseudonym, held.status) == (
            "liverpool-pensions",
            "p-hold",
            "active",
        )
        actions = [e.action for e in logged_entries(session)]
    assert actions == ["consent-given"]


@pytest.mark.parametrize(
    ("holder", "status", "now", "reason"),
    [
        ("newcastle-tax", "active", NOW, "wrong-holder"),
        ("people-register", "withdrawn", NOW, "not-active"),
        ("people-register", "active", NOW + timedelta(days=400), "expired"),
    ],
)
def test_the_holder_refuses_a_copy_it_should_not_hold(
    sessions: sessionmaker[Session], holder: str, status: str, now: datetime, reason: str
) -> None:
    record, _ = signed_copy(sessions)
    if status != "active":
        record = with_status(record, "withdrawn", NOW)
    with pytest.raises(RecordRefusedError) as caught:
        holding.check_copy(record, holder=holder, now=now)
    assert caught.value.reason == reason


def test_the_holder_withdraws_its_copy_once_and_records_it(
    sessions: sessionmaker[Session],
) -> None:
    record, envelope = signed_copy(sessions)
    with sessions.begin() as session:
        holding.hold_consent(session, record, envelope, now=NOW)
    withdrawn = with_status(record, "withdrawn", NOW + timedelta(hours=1))
    withdrawal = sign_record(withdrawn, CHARTER_KEY, "charter")

    with sessions.begin() as session:
        held = holding.withdraw_held(session, withdrawn, withdrawal, now=NOW)
        assert held is not None
        assert held.status == "withdrawn"
        again = holding.withdraw_held(session, withdrawn, withdrawal, now=NOW)
        assert again is held

    with sessions.begin() as session:
        actions = [e.action for e in logged_entries(session)]
        held = session.get(HeldConsent, record.consent_id)
        assert held is not None
        assert json.loads(held.record) == withdrawal
    assert actions == ["consent-given", "consent-withdrawn"]


def test_two_withdrawals_of_a_copy_at_once_at_two_workers_are_recorded_once(
    sessions: sessionmaker[Session], migrated_database_url: str
) -> None:
    """The charter's push and its retry reach two workers of the register at once, both
    having read the copy active: the copy is withdrawn and the withdrawal recorded once."""
    record, envelope = signed_copy(sessions)
    with sessions.begin() as session:
        holding.hold_consent(session, record, envelope, now=NOW)
    withdrawn = with_status(record, "withdrawn", NOW + timedelta(hours=1))
    withdrawal = sign_record(withdrawn, CHARTER_KEY, "charter")
    other = make_engine(migrated_database_url)
    barrier = threading.Barrier(2)

    def withdraw(factory: sessionmaker[Session]) -> str | None:
        with factory.begin() as session:
            # What the copy looked like before the FOR UPDATE (a no-op on SQLite).
            assert session.get(HeldConsent, record.consent_id) is not None
            barrier.wait(10)
            held = holding.withdraw_held(session, withdrawn, withdrawal, now=NOW)
            return None if held is None else held.status

    try:
        with ThreadPoolExecutor(2) as pool:
            statuses = list(pool.map(withdraw, (sessions, make_sessions(other))))
    finally:
        other.dispose()

    assert statuses == ["withdrawn", "withdrawn"]
    with sessions.begin() as session:
        actions = [e.action for e in logged_entries(session)]
    assert actions == ["consent-given", "consent-withdrawn"]


def test_the_holder_knows_nothing_to_withdraw_for_an_unknown_consent(
    sessions: sessionmaker[Session],
) -> None:
    record, _ = signed_copy(sessions)
    withdrawn = with_status(record, "withdrawn", NOW)
    with sessions.begin() as session:
        assert holding.withdraw_held(session, withdrawn, {}, now=NOW) is None
