"""Reads at a register over the signed exchange, on SQLite and PostgreSQL, every rule enforced.

The People register runs in-process with its real app; calls are signed by test members whose
keys the tests hold. Every allowed read and every refusal whose person is known must leave an
access record, committed before the answer leaves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from log_support import logged_entries

from digitalstate.consent.models import HeldConsent
from digitalstate.exchange.client import ExchangeClient
from digitalstate.transparency.entries import LogEntry
from integration.registers_support import (
    ADDRESS,
    BASE_URL,
    OTHER_PERSON,
    PEERS,
    PERSON,
    RECORD,
    RegisterNode,
    add_consent,
    add_record,
    problem,
    start_register,
)
from support.clients import ground_headers

READ = "/exchange/v1/records/read"
ACCESS = "/exchange/v1/access-records"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[RegisterNode]:
    yield from start_register(tmp_path / "people-register", migrated_database_url)


def records(node: RegisterNode, pseudonym: str = PERSON) -> list[LogEntry]:
    with node.sessions.begin() as session:
        return logged_entries(session, pseudonym)


def given(node: RegisterNode, **consent: Any) -> str:
    """A person with a record, and one consent held about them; its id."""
    with node.sessions.begin() as session:
        add_record(session)
        return add_consent(session, **consent)


def now_relative(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


# consented reads ------------------------------------------------------------------------


def test_a_consented_read_returns_exactly_the_fields_asked_and_is_recorded(
    node: RegisterNode,
) -> None:
    consent = given(node)

    response = node.call(READ, {"fields": ["people.address"]}, consent=consent)

    assert response.status_code == 200, response.text
    assert response.json() == {"fields": {"people.address": ADDRESS}, "version": 1}
    [entry] = records(node)
    assert (entry.requester, entry.action, entry.outcome) == (
        "liverpool-pensions",
        "read",
        "allowed",
    )
    assert entry.consent_id == consent
    assert entry.purpose == "pension-administration"
    assert entry.fields == ("people.address",)


def test_a_field_asked_twice_is_answered_once(node: RegisterNode) -> None:
    consent = given(node)
    fields = ["people.date_of_birth", "people.address", "people.date_of_birth"]
    response = node.call(READ, {"fields": fields}, consent=consent)
    assert response.json()["fields"] == {
        "people.date_of_birth": RECORD["people.date_of_birth"],
        "people.address": ADDRESS,
    }


def test_an_unknown_consent_is_refused_and_nobody_is_recorded(node: RegisterNode) -> None:
    given(node)
    response = node.call(READ, {"fields": ["people.address"]}, consent="no-such-consent")
    assert problem(response, 403, "consent-refused") == "consent no-such-consent is not known here"
    with node.sessions.begin() as session:
        assert logged_entries(session) == []


@pytest.mark.parametrize(
    ("consent", "call", "reason"),
    [
        pytest.param(
            {},
            {"caller": "newcastle-tax", "purpose": "pension-administration"},
            "was given to liverpool-pensions, not newcastle-tax",
            id="another-requester",
        ),
        pytest.param(
            {"status": "withdrawn", "withdrawn_at": datetime(2026, 2, 1, tzinfo=UTC)},
            {},
            "was withdrawn at 2026-02-01T00:00:00+00:00",
            id="withdrawn",
        ),
        pytest.param(
            {
                "expires_at": datetime(2026, 1, 1, tzinfo=UTC),
                "granted_at": datetime(2025, 1, 1, tzinfo=UTC),
            },
            {},
            "expired at 2026-01-01T00:00:00+00:00",
            id="expired",
        ),
        pytest.param(
            {"granted_at": now_relative(hours=1), "expires_at": now_relative(days=30)},
            {},
            "is not yet in force",
            id="not-yet",
        ),
        pytest.param(
            {},
            {"purpose": "tax-administration"},
            "is for the purpose pension-administration, not tax-administration",
            id="purpose-mismatch",
        ),
        pytest.param(
            {"fields": ("people.address",)},
            {"fields": ["people.address", "people.date_of_birth"]},
            "does not cover people.date_of_birth",
            id="fields-beyond",
        ),
    ],
)
def test_a_consent_that_does_not_allow_the_read_is_refused_with_its_reason_and_recorded(
    node: RegisterNode, consent: dict[str, Any], call: dict[str, Any], reason: str
) -> None:
    consent_id = given(node, **consent)
    call = dict(call)  # the parameters are shared by the SQLite and PostgreSQL runs
    fields = call.pop("fields", ["people.address"])

    response = node.call(READ, {"fields": fields}, consent=consent_id, **call)

    detail = problem(response, 403, "consent-refused")
    assert reason in detail
    [entry] = records(node)
    assert (entry.action, entry.outcome, entry.consent_id) == ("refused", "refused", consent_id)
    assert entry.reason == detail
    assert entry.requester == call.get("caller", "liverpool-pensions")


def test_a_withdrawal_takes_effect_on_the_very_next_read(node: RegisterNode) -> None:
    consent = given(node)
    assert node.call(READ, {"fields": ["people.address"]}, consent=consent).status_code == 200
    with node.sessions.begin() as session:
        held = session.get(HeldConsent, consent)
        assert held is not None
        held.status, held.withdrawn_at = "withdrawn", datetime.now(UTC)

    response = node.call(READ, {"fields": ["people.address"]}, consent=consent)

    problem(response, 403, "consent-refused")
    assert [r.action for r in records(node)] == ["read", "refused"]


def test_a_field_this_register_does_not_hold_is_a_bad_request_and_recorded(
    node: RegisterNode,
) -> None:
    consent = given(node, fields=("people.address", "tax.tax_code"))
    response = node.call(READ, {"fields": ["people.address", "tax.tax_code"]}, consent=consent)
    assert problem(response, 400, "field-not-held") == "this register does not hold tax.tax_code"
    [entry] = records(node)
    assert entry.action == "refused"


def test_a_consent_for_a_person_without_a_record_is_not_found_and_recorded(
    node: RegisterNode,
) -> None:
    with node.sessions.begin() as session:
        consent = add_consent(session, pseudonym=OTHER_PERSON)
    response = node.call(READ, {"fields": ["people.address"]}, consent=consent)
    problem(response, 404, "record-not-found")
    assert [r.action for r in records(node, OTHER_PERSON)] == ["refused"]


def test_a_consented_read_naming_a_subject_is_malformed(node: RegisterNode) -> None:
    consent = given(node)
    body = {"fields": ["people.address"], "subject": OTHER_PERSON}
    problem(node.call(READ, body, consent=consent), 400, "malformed-request")
    assert records(node) == []


def test_a_read_naming_both_a_consent_and_a_basis_is_malformed(node: RegisterNode) -> None:
    consent = given(node)
    response = node.call(
        READ, {"fields": ["people.address"]}, consent=consent, basis="electoral-canvass"
    )
    problem(response, 400, "malformed-request")


@pytest.mark.parametrize(
    "body",
    [
        {"fields": []},
        {"fields": ["Address"]},
        {"fields": ["people.address"] * 51},
        {"fields": ["people.address"], "extra": 1},
    ],
)
def test_a_malformed_body_is_refused(node: RegisterNode, body: dict[str, Any]) -> None:
    consent = given(node)
    problem(node.call(READ, body, consent=consent), 422, "validation-failed")


@pytest.mark.parametrize(
    ("purpose", "named", "slug"),
    [
        (None, True, "purpose-missing"),
        ("  ", True, "purpose-missing"),
        ("no-such-purpose", True, "purpose-unknown"),
        ("pension-administration", False, "legal-ground-missing"),
    ],
)
def test_a_read_naming_no_ground_is_refused_and_nothing_is_read_or_recorded(
    node: RegisterNode, purpose: str | None, named: bool, slug: str
) -> None:
    """The read is answered without the app's routing (a direct call, exchange/server.py):
    the ground is checked there as the route's dependency checks it."""
    consent = given(node)
    response = node.call(
        READ, {"fields": ["people.address"]}, purpose=purpose, consent=consent if named else None
    )
    problem(response, 403, slug)
    assert records(node) == []


def test_a_read_sent_as_another_content_type_is_refused_by_the_full_path(
    node: RegisterNode,
) -> None:
    """A direct call declines what is not JSON; the app's route answers it, as before: the
    body is not read as the model."""
    consent = given(node)
    raw = json.dumps({"fields": ["people.address"]}).encode()
    headers = {**ground_headers(purpose="pension-administration", consent=consent)}
    headers["content-type"] = "text/plain"
    caller = "liverpool-pensions"
    response = node.http.signed(caller, PEERS[caller][2], node.document, "POST", READ, raw, headers)
    problem(response, 422, "validation-failed")
    assert records(node) == []


def test_the_read_route_is_listed_as_touching_personal_data(node: RegisterNode) -> None:
    services = {s["path"]: s for s in _services(node)}
    assert services[READ]["personal_data"] is True
    assert services[ACCESS]["personal_data"] is False


def _services(node: RegisterNode) -> list[dict[str, Any]]:
    client = ExchangeClient("charter", PEERS["charter"][2], lambda: node.document)
    signed = client.sign_request("GET", BASE_URL + "/exchange/v1/services", b"", {})
    response = node.http.request("GET", "/exchange/v1/services", headers=signed)
    services: list[dict[str, Any]] = response.json()["services"]
    return services


# basis reads ----------------------------------------------------------------------------


def basis_read(
    node: RegisterNode,
    *,
    caller: str = "charter",
    basis: str = "electoral-canvass",
    purpose: str = "electoral-registration",
    fields: tuple[str, ...] = ("people.address",),
    subject: str | None = PERSON,
    on_behalf_of: str | None = "electoral-registration",
) -> httpx.Response:
    body: dict[str, Any] = {"fields": list(fields)}
    if subject is not None:
        body["subject"] = subject
    if on_behalf_of is not None:
        body["on_behalf_of"] = on_behalf_of
    return node.call(READ, body, caller=caller, purpose=purpose, basis=basis)


def test_a_basis_read_relayed_by_the_charter_is_answered_and_recorded(node: RegisterNode) -> None:
    given(node)
    response = basis_read(node, fields=("people.address", "people.date_of_birth"))
    assert response.status_code == 200, response.text
    assert response.json()["fields"] == {
        "people.address": ADDRESS,
        "people.date_of_birth": RECORD["people.date_of_birth"],
    }
    [entry] = records(node)
    assert (entry.action, entry.outcome, entry.requester) == (
        "basis-read",
        "allowed",
        "electoral-registration",
    )
    assert entry.basis_id == "electoral-canvass"
    assert entry.consent_id is None
    assert "Representation of the People Act 1983" in entry.reason


@pytest.mark.parametrize(
    ("call", "reason", "requester"),
    [
        pytest.param(
            {"basis": "no-such-basis"},
            "no-such-basis is not published in the federation document",
            "electoral-registration",
            id="unknown-basis",
        ),
        pytest.param(
            {"on_behalf_of": "newcastle-tax"},
            "is for electoral-registration, not newcastle-tax",
            "electoral-registration",
            id="another-requester",
        ),
        pytest.param(
            {"purpose": "tax-administration"},
            "is for the purpose electoral-registration, not tax-administration",
            "electoral-registration",
            id="purpose-mismatch",
        ),
        pytest.param(
            {"fields": ("people.address", "people.phone")},
            "does not cover people.phone",
            "electoral-registration",
            id="fields-beyond",
        ),
    ],
)
def test_a_basis_read_that_breaks_a_rule_is_refused_with_its_reason_and_recorded(
    node: RegisterNode, call: dict[str, Any], reason: str, requester: str
) -> None:
    given(node)
    detail = problem(basis_read(node, **call), 403, "basis-refused")
    assert reason in detail
    [entry] = records(node)
    assert (entry.action, entry.outcome, entry.requester) == ("refused", "refused", requester)
    assert entry.reason == detail


def test_a_basis_read_not_relayed_by_the_charter_writes_nothing_into_the_persons_record(
    node: RegisterNode,
) -> None:
    given(node)
    records_before = len(records(node))
    detail = problem(basis_read(node, caller="electoral-registration"), 403, "basis-refused")
    assert "relayed by the charter" in detail
    assert len(records(node)) == records_before


def test_a_basis_read_without_a_subject_is_refused(node: RegisterNode) -> None:
    given(node)
    detail = problem(basis_read(node, subject=None), 403, "basis-refused")
    assert "must name its subject" in detail


def test_a_basis_read_of_a_person_without_a_record_is_not_found_and_recorded(
    node: RegisterNode,
) -> None:
    given(node)
    problem(basis_read(node, subject=OTHER_PERSON), 404, "record-not-found")
    assert [r.action for r in records(node, OTHER_PERSON)] == ["refused"]


# access records -------------------------------------------------------------------------


def test_the_charter_lists_the_log_entries_of_a_person_newest_first(node: RegisterNode) -> None:
    consent = given(node, fields=("people.address",))
    node.call(READ, {"fields": ["people.address"]}, consent=consent)
    node.call(READ, {"fields": ["people.date_of_birth"]}, consent=consent)

    response = node.call(ACCESS, {"subject": PERSON}, caller="charter", purpose=None)

    assert response.status_code == 200, response.text
    listed = response.json()["entries"]
    entries = [LogEntry.decode(item["entry"].encode()) for item in listed]
    assert [e.action for e in entries] == ["refused", "read"]
    read = entries[1]
    assert (read.holder, read.requester, read.purpose, read.consent_id, read.basis_id) == (
        "people-register",
        "liverpool-pensions",
        "pension-administration",
        consent,
        None,
    )
    assert (read.fields, read.outcome, read.reason) == (
        ("people.address",),
        "allowed",
        "consent active and covers the fields",
    )
    assert read.pseudonym == PERSON
    assert read.at.tzinfo is not None
    # Each entry is what was logged, byte for byte: its leaf hash is what the tree holds.
    with node.sessions.begin() as session:
        assert [e.encode() for e in logged_entries(session, PERSON)] == [
            item["entry"].encode() for item in reversed(listed)
        ]


def test_only_the_charter_may_list_access_records(node: RegisterNode) -> None:
    given(node)
    response = node.call(ACCESS, {"subject": PERSON}, caller="liverpool-pensions", purpose=None)
    assert "charter" in problem(response, 403, "caller-not-allowed")
