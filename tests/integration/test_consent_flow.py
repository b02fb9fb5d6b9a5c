"""The consent flow across a real charter and a real People register, on SQLite and PostgreSQL.

The charter runs in-process (a browser drives its pages); the People register runs on a
loopback port, so the charter's pushes of consent copies and withdrawals are real signed calls.
A pensions service and the electoral registration office are played by the test, which holds
their keys.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from log_support import logged_entries
from sqlalchemy import select

from digitalstate.consent import flows
from digitalstate.consent.models import Consent, ConsentRequest, HeldConsent
from digitalstate.consent.records import sign_record, signer_keys, verify_record
from digitalstate.consent.service import RequestUnavailableError
from digitalstate.identity.service import grant_delegation, pseudonym_for
from digitalstate.problems import PROBLEM_BASE
from integration.consent_support import (
    ELECTORAL,
    PENSIONS,
    Federation,
    add_person_with_record,
    agree,
    ask,
    read_address,
    running_federation,
)

PURPOSE = "pension-administration"
RETURN_URL = "http://127.0.0.1:9/service/consent-return"
ADDRESS = {"lines": ["1 Dock Road"], "town": "Liverpool", "postcode": "L1 1AA"}
WORDING = (
    "Liverpool pensions uses your address and date of birth to work out and pay your State "
    "Pension, and to write to you about it."
)


@pytest.fixture
def fed(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[Federation]:
    yield from running_federation(tmp_path, migrated_database_url, more_databases)


@pytest.fixture
def ada(fed: Federation) -> str:
    """Ada, signed in, with a record at the People register."""
    return add_person_with_record(fed, "ada@example.org", "Ada Lovelace", ADDRESS)


def answer(fed: Federation, request_id: str, choice: str | None) -> httpx.Response:
    token = fed.browser.csrf(f"/consent/{request_id}")
    data = {"csrf_token": token} | ({"answer": choice} if choice else {})
    return fed.browser.post(f"/consent/{request_id}", data=data)


def problem_type(response: Any) -> str:
    body = response.json()
    return str(body["type"]).removeprefix(PROBLEM_BASE)


# --- asking --------------------------------------------------------------------------------


def test_a_service_asks_for_consent_and_gets_the_screens_address(fed: Federation, ada: str) -> None:
    asked = ask(fed, ada)

    assert asked["url"] == f"http://charter.test/consent/{asked['request_id']}"
    with fed.charter.sessions.begin() as session:
        request = session.get(ConsentRequest, asked["request_id"])
        assert request is not None
        assert request.requester == "liverpool-pensions"


@pytest.mark.parametrize(
    ("changes", "status", "slug"),
    [
        ({"fields": ["pensions.bank_details"]}, 422, "consent-request-invalid"),
        ({"return_url": "http://evil.test/steal"}, 422, "consent-request-invalid"),
        ({"duration_days": 0}, 422, "consent-request-invalid"),
        ({"purpose": "marketing"}, 422, "consent-request-invalid"),
        ({"fields": "people.address"}, 422, "validation-failed"),
        ({"surprise": True}, 422, "validation-failed"),
    ],
)
def test_a_bad_consent_request_is_refused_with_a_problem(
    fed: Federation, ada: str, changes: dict[str, Any], status: int, slug: str
) -> None:
    body = {
        "subject": "x",
        "holder": "people-register",
        "fields": ["people.address"],
        "purpose": PURPOSE,
        "duration_days": 30,
        "return_url": RETURN_URL,
        **changes,
    }
    response = fed.signed(
        "liverpool-pensions", PENSIONS, "POST", "/exchange/v1/consent-requests", body
    )
    assert response.status_code == status, response.text
    assert problem_type(response) == slug


def test_an_unsigned_consent_request_is_refused(fed: Federation) -> None:
    response = fed.browser.post("/exchange/v1/consent-requests", json={})
    assert response.status_code == 401


# --- the consent screen --------------------------------------------------------------------


def test_the_consent_screen_says_who_asks_for_what_from_whom_why_and_until_when(
    fed: Federation, ada: str
) -> None:
    asked = ask(fed, ada)

    page = fed.browser.get(f"/consent/{asked['request_id']}")

    assert page.status_code == 200, page.text
    text = page.text
    assert "Liverpool: pensions is asking to see your details" in text
    assert "Home address in UK form, with a validated postcode" in text
    assert "Date of birth" in text
    assert "People register" in text
    assert WORDING in text
    until = datetime.now(UTC) + timedelta(days=365)
    assert f"{until.day} {until:%B %Y}" in text
    assert "will be told when these details change" in text
    assert "Yes, share these details" in text
    assert "No, do not share them" in text
    assert "acting for" not in text


def test_the_consent_screen_asks_to_sign_in_first(fed: Federation, ada: str) -> None:
    asked = ask(fed, ada)
    fed.browser.client.cookies.clear()

    page = fed.browser.get(f"/consent/{asked['request_id']}")

    assert page.status_code == 303
    assert page.headers["location"].startswith("/sign-in?next=")


def test_continuing_without_an_answer_shows_the_error_summary(fed: Federation, ada: str) -> None:
    asked = ask(fed, ada)

    page = answer(fed, asked["request_id"], None)

    assert page.status_code == 400
    assert "There is a problem" in page.text
    assert page.text.count("Select yes if you want to share these details") == 2
    assert 'href="#answer"' in page.text


def test_an_answer_without_the_csrf_token_is_refused(fed: Federation, ada: str) -> None:
    asked = ask(fed, ada)

    response = fed.browser.post(f"/consent/{asked['request_id']}", data={"answer": "yes"})

    assert response.status_code == 403
    with fed.charter.sessions.begin() as session:
        assert session.scalars(select(Consent)).all() == []


def test_an_unknown_request_is_a_clear_page(fed: Federation, ada: str) -> None:
    page = fed.browser.get("/consent/no-such-request")
    assert page.status_code == 404
    assert "This request is not recognised" in page.text


def test_a_request_for_someone_else_is_not_shown(fed: Federation, ada: str) -> None:
    asked = ask(fed, ada)
    fed.add_person("bob@example.org", "Bob")
    fed.sign_in("bob@example.org")

    page = fed.browser.get(f"/consent/{asked['request_id']}")

    assert page.status_code == 403
    assert "This request is for someone else" in page.text
    assert "Liverpool" not in page.text


# --- agreeing and refusing -----------------------------------------------------------------


def test_agreeing_gives_the_register_its_copy_then_sends_the_person_back(
    fed: Federation, ada: str
) -> None:
    asked = ask(fed, ada)

    response = answer(fed, asked["request_id"], "yes")

    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location._replace(query="").geturl() == RETURN_URL
    query = parse_qs(location.query)
    assert query["request_id"] == [asked["request_id"]]
    consent_id = query["consent_id"][0]
    with fed.holder_sessions.begin() as session:
        held = session.get(HeldConsent, consent_id)
        assert held is not None
        assert held.requester == "liverpool-pensions"
        assert held.holder_pseudonym == pseudonym_for(fed.charter, "people-register", ada)
        assert ada not in held.record  # the internal id never leaves the charter
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        assert consent.person_id == ada

    first = read_address(fed, consent_id)
    assert first.status == 200, first.body
    assert first.json()["fields"] == {"people.address": ADDRESS}


def test_the_request_cannot_be_answered_twice(fed: Federation, ada: str) -> None:
    asked = ask(fed, ada)
    answer(fed, asked["request_id"], "yes")

    page = fed.browser.get(f"/consent/{asked['request_id']}")

    assert page.status_code == 409
    assert "You have already answered this request" in page.text


def test_two_answers_at_once_give_the_register_one_copy(fed: Federation, ada: str) -> None:
    """A double click (two answers at once): one consent, and one copy at the register; the
    other answer is told the request is answered before it pushes anything."""
    asked = ask(fed, ada)

    async def twice() -> list[Any]:
        answers = (
            flows.answer_request(
                fed.charter,
                request_id=asked["request_id"],
                signed_in=ada,
                agree=True,
                now=datetime.now(UTC),
            )
            for _ in range(2)
        )
        return await asyncio.gather(*answers, return_exceptions=True)

    outcomes = fed.browser.run(twice())

    [location] = [o for o in outcomes if isinstance(o, str)]
    [refused] = [o for o in outcomes if not isinstance(o, str)]
    assert isinstance(refused, RequestUnavailableError) and refused.kind == "decided"
    consent_id = parse_qs(urlsplit(location).query)["consent_id"][0]
    with fed.charter.sessions.begin() as session:
        assert [c.id for c in session.scalars(select(Consent))] == [consent_id]
    with fed.holder_sessions.begin() as session:
        assert [(h.id, h.status) for h in session.scalars(select(HeldConsent))] == [
            (consent_id, "active")
        ]


def test_refusing_sends_the_person_back_with_access_denied(fed: Federation, ada: str) -> None:
    asked = ask(fed, ada)

    response = answer(fed, asked["request_id"], "no")

    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query == {"request_id": [asked["request_id"]], "error": ["access_denied"]}
    with fed.charter.sessions.begin() as session:
        assert session.scalars(select(Consent)).all() == []
    with fed.holder_sessions.begin() as session:
        assert session.scalars(select(HeldConsent)).all() == []


def test_when_the_register_cannot_be_reached_the_consent_is_not_given(
    fed: Federation, ada: str
) -> None:
    asked = ask(fed, ada)
    fed.stop_holder()

    page = answer(fed, asked["request_id"], "yes")

    assert page.status_code == 503
    assert (
        "We could not reach People register. Your consent has not been given. Try again later."
        in page.text
    )
    with fed.charter.sessions.begin() as session:
        assert session.scalars(select(Consent)).all() == []
        request = session.get(ConsentRequest, asked["request_id"])
        assert request is not None
        assert (request.decided_at, request.consent_id) == (None, None)  # held, then released

    fed.start_holder()
    assert answer(fed, asked["request_id"], "yes").status_code == 303


# --- helpers -------------------------------------------------------------------------------


def test_a_helper_gives_consent_for_the_person_and_is_shown_as_acting_for_them(
    fed: Federation, ada: str
) -> None:
    sam = fed.add_person("sam@example.org", "Sam Carer")
    now = datetime.now(UTC)
    with fed.charter.sessions.begin() as session:
        grant_delegation(
            session,
            person_id=ada,
            helper_email="sam@example.org",
            scope="consent",
            expires_at=now + timedelta(days=30),
            now=now,
        )
    asked = ask(fed, ada)
    fed.sign_in("sam@example.org")

    page = fed.browser.get(f"/consent/{asked['request_id']}")
    assert "You are acting for Ada Lovelace" in page.text
    assert "&lt;" not in page.text
    assert "see Ada Lovelace's details" in page.text  # the apostrophe is the message's own
    response = answer(fed, asked["request_id"], "yes")
    assert response.status_code == 303, response.text
    consent_id = parse_qs(urlsplit(response.headers["location"]).query)["consent_id"][0]

    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        assert (consent.person_id, consent.given_by) == (ada, sam)
        record = json.loads(consent.record)["record"]
    assert record["given_by"]["kind"] == "helper"
    assert record["given_by"]["helper"] == "Sam Carer"
    helper_list = fed.browser.get("/my/consents").text
    assert "For Ada Lovelace" in helper_list
    assert "You, as their helper" in helper_list
    fed.sign_in("ada@example.org")
    own_list = fed.browser.get("/my/consents").text
    assert "Sam Carer (helper)" in own_list
    assert "For Ada" not in own_list


def test_a_helper_without_consent_scope_cannot_answer(fed: Federation, ada: str) -> None:
    fed.add_person("sam@example.org", "Sam Carer")
    now = datetime.now(UTC)
    with fed.charter.sessions.begin() as session:
        grant_delegation(
            session,
            person_id=ada,
            helper_email="sam@example.org",
            scope="sign-in",
            expires_at=now + timedelta(days=30),
            now=now,
        )
    asked = ask(fed, ada)
    fed.sign_in("sam@example.org")

    assert answer_status(fed, asked["request_id"]) == 403


def answer_status(fed: Federation, request_id: str) -> int:
    return fed.browser.get(f"/consent/{request_id}").status_code


# --- the person's consents -----------------------------------------------------------------


def test_the_receipt_is_the_signed_record_and_verifies_with_the_charter_key(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)

    response = fed.browser.get(f"/my/consents/{consent_id}/receipt.json")

    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="consent-{consent_id}.json"'
    )
    keys = signer_keys(fed.document, "charter", datetime.now(UTC))
    record = verify_record(response.json(), keys, signer="charter")
    assert record.consent_id == consent_id
    assert ada not in response.text  # the internal id never leaves the charter
    assert record.pii_principal.requester_pseudonym == pseudonym_for(
        fed.charter, "liverpool-pensions", ada
    )
    page = fed.browser.get(f"/my/consents/{consent_id}")
    assert "Download your receipt (JSON)" in page.text
    assert f'<code class="ds-code">{record.purpose.wording_sha256}</code>' in page.text


def test_a_person_cannot_see_or_withdraw_another_persons_consent(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)
    fed.add_person("bob@example.org", "Bob")
    fed.sign_in("bob@example.org")

    assert fed.browser.get(f"/my/consents/{consent_id}").status_code == 404
    assert fed.browser.get(f"/my/consents/{consent_id}/receipt.json").status_code == 404
    assert fed.browser.get(f"/my/consents/{consent_id}/withdraw").status_code == 404
    token = fed.browser.csrf("/sign-in")
    refused = fed.browser.post(f"/my/consents/{consent_id}/withdraw", data={"csrf_token": token})
    assert refused.status_code == 404
    assert "Liverpool" not in fed.browser.get("/my/consents").text
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        assert consent.status == "active"


def test_withdrawing_takes_effect_and_the_register_refuses_the_next_read(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    assert read_address(fed, consent_id).status == 200

    confirm = fed.browser.get(f"/my/consents/{consent_id}/withdraw")
    assert "Are you sure you want to withdraw this consent?" in confirm.text
    token = fed.browser.csrf(f"/my/consents/{consent_id}/withdraw")
    done = fed.browser.post(f"/my/consents/{consent_id}/withdraw", data={"csrf_token": token})

    assert done.status_code == 200, done.text
    assert "Consent withdrawn" in done.text
    assert "It took effect at" in done.text
    assert "has confirmed it" in done.text
    refused = read_address(fed, consent_id)
    assert refused.status == 403
    assert problem_type(refused) == "consent-refused"
    assert "withdrawn" in refused.json()["detail"]
    listing = fed.browser.get("/my/consents").text
    withdrawn_part = listing.split('id="withdrawn"')[1].split('id="expired"')[0]
    assert "Liverpool: pensions" in withdrawn_part


def test_a_withdrawal_without_the_csrf_token_is_refused(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)

    response = fed.browser.post(f"/my/consents/{consent_id}/withdraw", data={})

    assert response.status_code == 403
    assert read_address(fed, consent_id).status == 200


def test_a_withdrawal_the_register_misses_is_retried_until_it_confirms(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    fed.stop_holder()

    token = fed.browser.csrf(f"/my/consents/{consent_id}/withdraw")
    done = fed.browser.post(f"/my/consents/{consent_id}/withdraw", data={"csrf_token": token})

    assert done.status_code == 200
    assert "Consent withdrawn" in done.text
    assert "People register has not confirmed the withdrawal yet" in done.text
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        assert (consent.status, consent.holder_synced_at) == ("withdrawn", None)

    fed.start_holder()
    assert fed.browser.run(flows.retry_withdrawals(fed.charter)) == 1

    with fed.holder_sessions.begin() as session:
        held = session.get(HeldConsent, consent_id)
        assert held is not None
        assert held.status == "withdrawn"
    assert read_address(fed, consent_id).status == 403
    assert fed.browser.run(flows.retry_withdrawals(fed.charter)) == 0
    details = fed.browser.get(f"/my/consents/{consent_id}").text
    assert "has not confirmed" not in details


# --- who has seen your data ----------------------------------------------------------------


def test_who_has_seen_your_data_shows_each_read_and_names_registers_not_reached(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    assert read_address(fed, consent_id).status == 200

    page = fed.browser.get("/my/activity")

    assert page.status_code == 200
    text = page.text
    assert "Read from People register" in text
    assert "Your consent was recorded at People register" in text
    assert "Liverpool: pensions" in text
    assert "Paying your State Pension" in text
    assert f'href="/my/consents/{consent_id}"' in text
    assert "We could not reach Liverpool: pensions, Electoral registration office" in text
    # Each access is a log entry, checked (tests/integration/test_activity.py: how far).
    assert text.count('class="govuk-summary-card ') == 2
    assert "Not yet verified" in text or "Verified" in text


# --- reads under a statutory basis ---------------------------------------------------------


def basis_read(fed: Federation, person: str, **changes: Any) -> httpx.Response:
    body = {
        "subject": pseudonym_for(fed.charter, "electoral-registration", person, record=True),
        "holder": "people-register",
        "fields": ["people.address"],
    }
    headers = {"purpose": "electoral-registration", "basis": "electoral-canvass"}
    headers.update(changes.pop("headers", {}))
    return fed.signed(
        "electoral-registration",
        ELECTORAL,
        "POST",
        "/exchange/v1/basis-reads",
        {**body, **changes},
        **headers,
    )


def test_a_basis_read_is_relayed_to_the_register_recorded_and_shown(
    fed: Federation, ada: str
) -> None:
    response = basis_read(fed, ada)

    assert response.status_code == 200, response.text
    assert response.json()["fields"] == {"people.address": ADDRESS}
    holder_pseudonym = pseudonym_for(fed.charter, "people-register", ada)
    with fed.charter.sessions.begin() as session:
        [relay] = logged_entries(session)
    assert (relay.action, relay.pseudonym, relay.requester, relay.basis_id, relay.outcome) == (
        "basis-read",
        holder_pseudonym,
        "electoral-registration",
        "electoral-canvass",
        "allowed",
    )
    text = fed.browser.get("/my/activity").text
    assert "Read from People register under a statutory basis, through the charter" in text
    assert "Representation of the People Act 1983, s. 9A" in text
    assert "Electoral registration office" in text
    # One access, though two logs recorded it: the charter's relay and the register's read.
    assert text.count('class="govuk-summary-card ') == 1
    recorded = text.split("Recorded in")[1].split("Checked")[0]
    assert "People register" in recorded and "Charter: your account" in recorded


@pytest.mark.parametrize(
    ("changes", "status", "slug", "recorded_at"),
    [
        ({"fields": ["people.date_of_birth", "people.email"]}, 403, "basis-refused", "people"),
        ({"headers": {"basis": "tax-address-update"}}, 403, "basis-refused", "people"),
        ({"headers": {"purpose": "driver-licensing"}}, 403, "basis-refused", "people"),
        ({"headers": {"basis": "no-such-basis"}}, 403, "basis-refused", "people"),
        ({"headers": {"basis": "", "consent": "a-consent"}}, 403, "basis-refused", "people"),
        # Another register, not the fields' own: under its pseudonym, as a relay would be.
        ({"holder": "liverpool-pensions"}, 403, "basis-refused", "liverpool-pensions"),
        # No register at all: under the charter's own pseudonym, which the person's page reads.
        ({"holder": "no-such-register"}, 403, "basis-refused", "charter"),
        # Nobody to record it for: a pseudonym the charter never issued, or no ground at all.
        ({"subject": "neverissued"}, 404, "subject-unknown", None),
        ({"headers": {"basis": ""}}, 403, "legal-ground-missing", None),
    ],
)
def test_a_basis_read_the_basis_does_not_allow_is_refused(
    fed: Federation,
    ada: str,
    changes: dict[str, Any],
    status: int,
    slug: str,
    recorded_at: str | None,
) -> None:
    response = basis_read(fed, ada, **changes)

    assert response.status_code == status, response.text
    assert problem_type(response) == slug
    with fed.charter.sessions.begin() as session:
        logged = logged_entries(session)
    with fed.holder_sessions.begin() as session:
        assert logged_entries(session) == []  # it never reached the register
    if recorded_at is None:
        assert logged == []
        return
    # Once, in the charter's own log, before the caller heard of it.
    [refusal] = logged
    member = "people-register" if recorded_at == "people" else recorded_at
    headers = {"purpose": "electoral-registration", "basis": "electoral-canvass"}
    headers.update(changes.get("headers", {}))
    assert (refusal.holder, refusal.action, refusal.outcome) == ("charter", "refused", "refused")
    assert refusal.pseudonym == pseudonym_for(fed.charter, member, ada)
    assert refusal.requester == "electoral-registration"
    assert refusal.purpose == headers["purpose"]
    assert refusal.basis_id == (headers["basis"] or None)
    assert refusal.consent_id is None
    assert refusal.fields == tuple(changes.get("fields", ["people.address"]))
    assert refusal.reason == response.json()["detail"]


def test_a_refusal_by_the_charter_is_shown_to_the_person_in_words(
    fed: Federation, ada: str
) -> None:
    assert basis_read(fed, ada, headers={"basis": "tax-address-update"}).status_code == 403
    assert basis_read(fed, ada, holder="no-such-register").status_code == 403

    text = fed.browser.get("/my/activity").text

    # Two accesses, each on its own: a refusal by the charter pairs with nothing.
    assert text.count('class="govuk-summary-card ') == 2
    assert (
        "Tried to read from People register under a statutory basis, and was refused by the "
        "charter" in text
    )
    assert "Tried to read your details under a statutory basis, and was refused by the charter" in (
        text
    )
    assert "basis tax-address-update is for newcastle-tax only" in text
    assert "no-such-register is not the register of" in text
    assert "Electoral registration office" in text


# --- the register's side -------------------------------------------------------------------


def test_only_the_charter_may_give_a_register_a_consent_copy(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        envelope = json.loads(consent.record)

    response = fed.call_holder(
        "liverpool-pensions", PENSIONS, "POST", "/exchange/v1/consents", envelope
    )

    assert response.status == 403
    assert problem_type(response) == "caller-not-allowed"


def test_a_register_refuses_a_tampered_copy_and_takes_a_good_one_once(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        envelope = json.loads(consent.record)
    tampered = json.loads(json.dumps(envelope))
    tampered["record"]["fields"].append("people.email")

    bad = fed.call_holder("charter", fed.charter_key, "POST", "/exchange/v1/consents", tampered)
    again = fed.call_holder("charter", fed.charter_key, "POST", "/exchange/v1/consents", envelope)

    assert bad.status == 422
    assert problem_type(bad) == "consent-record-invalid"
    assert bad.json()["reason"] == "bad-signature"
    assert again.status == 200
    assert again.json() == {"consent_id": consent_id, "status": "already-held"}


def test_a_register_refuses_a_withdrawal_that_is_not_one(fed: Federation, ada: str) -> None:
    consent_id = agree(fed, ada)
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        envelope = json.loads(consent.record)

    response = fed.call_holder(
        "charter",
        fed.charter_key,
        "POST",
        f"/exchange/v1/consents/{consent_id}/withdrawal",
        envelope,
    )

    assert response.status == 422
    assert problem_type(response) == "consent-record-invalid"
    assert read_address(fed, consent_id).status == 200


def test_a_register_has_nothing_to_withdraw_for_a_consent_it_never_held(
    fed: Federation, ada: str
) -> None:
    consent_id = agree(fed, ada)
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        record = json.loads(consent.record)["record"]
    record["consent_id"] = "00000000-0000-4000-8000-000000000000"
    record["status"] = "withdrawn"
    envelope = {
        "record": record,
        "signature": sign_record_payload(fed, record),
    }

    response = fed.call_holder(
        "charter",
        fed.charter_key,
        "POST",
        f"/exchange/v1/consents/{record['consent_id']}/withdrawal",
        envelope,
    )

    assert response.status == 404


def sign_record_payload(fed: Federation, payload: dict[str, Any]) -> dict[str, Any]:
    from digitalstate.consent.records import ConsentRecord

    signed = sign_record(ConsentRecord.model_validate(payload), fed.charter_key, "charter")
    return dict(signed["signature"])
