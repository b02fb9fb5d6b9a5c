"""Consent records: built from the catalogue, signed by the charter, verified, tamper-evident."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digitalstate.consent.domain import Allowed, Refused, check_read, wording_hash
from digitalstate.consent.records import (
    ConsentRecord,
    GivenBy,
    RecordRefusedError,
    build_record,
    sign_record,
    signer_keys,
    verify_record,
    with_status,
)
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import Member, canonical_json
from digitalstate.keys import KeyPair, b64encode
from support.federation import federation_document, member

CHARTER = KeyPair.from_seed(bytes(range(1, 33)))
OTHER = KeyPair.from_seed(bytes(range(33, 65)))
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()


def _member(member_id: str, name: str, roles: tuple[Any, ...], key: KeyPair) -> Member:
    url = f"http://{member_id}.test"
    return member(
        member_id, key, name=name, roles=roles, base_url=url, since=NOW - timedelta(days=1)
    )


MEMBERS = (
    _member("charter", "Charter", ("charter",), CHARTER),
    _member("people-register", "People register", ("register",), OTHER),
    _member("liverpool-pensions", "Liverpool: pensions", ("register", "service"), OTHER),
)
FEDERATION = federation_document(
    MEMBERS,
    federation="test",
    issued_at=NOW - timedelta(hours=1),
    expires_at=NOW + timedelta(days=1),
)


def a_record(given_by: GivenBy | None = None) -> ConsentRecord:
    purpose = next(p for p in CATALOGUE.purposes if p.code == "pension-administration")
    fields = [f for f in CATALOGUE.fields if f.name in ("people.address", "people.date_of_birth")]
    return build_record(
        consent_id="c0ffee00-0000-4000-8000-000000000001",
        issuer=MEMBERS[0],
        requester=MEMBERS[2],
        holder=MEMBERS[1],
        pseudonyms=("requesterpseudonym", "holderpseudonym"),
        purpose=purpose,
        fields=fields,
        granted_at=NOW,
        expires_at=NOW + timedelta(days=365),
        duration_days=365,
        notify=True,
        given_by=given_by or GivenBy(kind="person"),
    )


def test_a_record_carries_the_consent_receipt_fields_and_only_pseudonyms() -> None:
    payload = sign_record(a_record(), CHARTER, "charter")["record"]

    assert payload["version"] == "digitalstate-consent-record/1"
    assert payload["jurisdiction"] == "UK"
    assert payload["consent_timestamp"] == "2026-01-01T09:00:00Z"
    assert payload["pii_principal"] == {
        "requester_pseudonym": "requesterpseudonym",
        "holder_pseudonym": "holderpseudonym",
    }
    assert payload["pii_controllers"] == [
        {"role": "requester", "member_id": "liverpool-pensions", "name": "Liverpool: pensions"},
        {"role": "holder", "member_id": "people-register", "name": "People register"},
    ]
    (purpose,) = payload["purposes"]
    assert purpose["code"] == "pension-administration"
    assert purpose["wording_sha256"] == wording_hash(purpose["wording"])
    assert purpose["dpv"] == "dpv:ServiceProvision"
    assert payload["fields"] == ["people.date_of_birth", "people.address"]
    assert payload["duration"] == {"days": 365}
    assert payload["expires_at"] == "2027-01-01T09:00:00Z"
    assert payload["notify_on_change"] is True
    assert payload["given_by"] == {"kind": "person", "helper": None, "delegation_id": None}
    assert payload["status"] == "active"


def test_a_signed_record_verifies_with_the_charter_key_from_the_federation() -> None:
    envelope = sign_record(a_record(), CHARTER, "charter")

    record = verify_record(envelope, signer_keys(FEDERATION, "charter", NOW), signer="charter")

    assert record == a_record()
    assert envelope["signature"]["keyid"] == "charter"
    assert envelope["signature"]["alg"] == "ed25519"


def test_a_record_survives_a_json_round_trip() -> None:
    envelope = json.loads(json.dumps(sign_record(a_record(), CHARTER, "charter")))
    assert verify_record(envelope, [CHARTER.public]).consent_id == a_record().consent_id


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("fields",), ["people.date_of_birth", "people.address", "pensions.bank_details"]),
        (("expires_at",), "2099-01-01T00:00:00Z"),
        (("status",), "withdrawn"),
        (("pii_controllers", 0, "member_id"), "prisons"),
        (("purposes", 0, "wording"), "We may use your data for anything."),
    ],
)
def test_a_tampered_record_does_not_verify(path: tuple[Any, ...], value: Any) -> None:
    envelope = copy.deepcopy(sign_record(a_record(), CHARTER, "charter"))
    target = envelope["record"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value

    with pytest.raises(RecordRefusedError) as caught:
        verify_record(envelope, [CHARTER.public])
    assert caught.value.reason == "bad-signature"


def test_a_record_signed_with_another_key_does_not_verify() -> None:
    envelope = sign_record(a_record(), OTHER, "charter")
    with pytest.raises(RecordRefusedError, match="does not verify"):
        verify_record(envelope, signer_keys(FEDERATION, "charter", NOW))


def test_a_record_signed_in_another_members_name_is_refused() -> None:
    envelope = sign_record(a_record(), CHARTER, "people-register")
    with pytest.raises(RecordRefusedError) as caught:
        verify_record(envelope, [CHARTER.public], signer="charter")
    assert caught.value.reason == "wrong-signer"


def test_only_a_charter_member_has_keys_that_sign_records() -> None:
    assert signer_keys(FEDERATION, "people-register", NOW) == []
    assert signer_keys(FEDERATION, "nobody", NOW) == []


@pytest.mark.parametrize(
    "envelope",
    [
        None,
        [],
        {"record": {}},
        {"record": {}, "signature": "x"},
        {"record": {}, "signature": {"alg": "rsa", "value": "AAAA"}},
        {"record": {}, "signature": {"alg": "ed25519", "value": "not base64!"}},
    ],
)
def test_a_malformed_envelope_is_refused_as_malformed(envelope: Any) -> None:
    with pytest.raises(RecordRefusedError) as caught:
        verify_record(envelope, [CHARTER.public])
    assert caught.value.reason == "malformed"


def test_a_well_signed_envelope_of_something_that_is_not_a_record_is_malformed() -> None:
    payload = {"consent_id": "x"}
    signature = {"keyid": "charter", "alg": "ed25519"}
    signature["value"] = b64encode(CHARTER.sign(canonical_json(payload)))

    with pytest.raises(RecordRefusedError) as caught:
        verify_record({"record": payload, "signature": signature}, [CHARTER.public])
    assert caught.value.reason == "malformed"


def test_a_helper_given_record_names_the_helper_and_the_delegation() -> None:
    record = a_record(GivenBy(kind="helper", helper="Sam Carer", delegation_id="d-1"))
    payload = sign_record(record, CHARTER, "charter")["record"]
    assert payload["given_by"] == {"kind": "helper", "helper": "Sam Carer", "delegation_id": "d-1"}


def test_a_withdrawn_record_says_when_and_its_terms_refuse_the_next_read() -> None:
    withdrawn = with_status(a_record(), "withdrawn", NOW + timedelta(days=2))

    assert withdrawn.withdrawn_at == NOW + timedelta(days=2)
    decision = check_read(
        withdrawn.terms(),
        consent_id=withdrawn.consent_id,
        requester="liverpool-pensions",
        purpose="pension-administration",
        fields=("people.address",),
        now=NOW + timedelta(days=3),
    )
    assert isinstance(decision, Refused)
    assert "withdrawn" in decision.reason


def test_the_terms_of_an_active_record_allow_a_read_of_its_fields() -> None:
    record = a_record()
    decision = check_read(
        record.terms(),
        consent_id=record.consent_id,
        requester="liverpool-pensions",
        purpose="pension-administration",
        fields=("people.address",),
        now=NOW + timedelta(days=1),
    )
    assert decision == Allowed(("people.address",))
    assert record.requester == "liverpool-pensions"
    assert record.holder == "people-register"
    assert record.sensitive is False
