"""The federation document refuses entries that contradict each other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair

NOW = datetime(2030, 1, 1, tzinfo=UTC)
KEY = KeyPair.from_seed(bytes(32)).public.b64


def document(**entries: Any) -> FederationDocument:
    return FederationDocument.model_validate(
        {
            "federation": "test",
            "version": 1,
            "issued_at": NOW,
            "expires_at": NOW + timedelta(hours=1),
            **entries,
        }
    )


def member(member_id: str) -> dict[str, Any]:
    return {
        "id": member_id,
        "name": member_id,
        "roles": ["register"],
        "base_url": "http://127.0.0.1:9000",
        "keys": [{"public_key": KEY, "not_before": NOW}],
    }


PURPOSE = {"code": "tax", "title": "Tax", "wording": "We use it for tax."}
FIELD = {"name": "people.address", "type": "uk-address", "holder": "people-register"}


def test_a_member_id_that_appears_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="member id alpha appears more than once"):
        document(members=[member("alpha"), member("alpha")])


def test_a_basis_naming_a_purpose_not_in_the_catalogue_is_refused() -> None:
    basis = {
        "id": "b",
        "legislation": "Act",
        "requester": "alpha",
        "fields": ["people.address"],
        "purpose": "elsewhere",
    }
    with pytest.raises(ValidationError, match="names purpose 'elsewhere'"):
        document(purposes=[PURPOSE], fields=[FIELD], statutory_bases=[basis])


def test_a_basis_naming_a_field_not_in_the_catalogue_is_refused() -> None:
    basis = {
        "id": "b",
        "legislation": "Act",
        "requester": "alpha",
        "fields": ["people.shoe_size"],
        "purpose": "tax",
    }
    with pytest.raises(ValidationError, match=r"people\.shoe_size"):
        document(purposes=[PURPOSE], fields=[FIELD], statutory_bases=[basis])


def test_a_basis_may_name_a_requester_that_has_not_joined_yet() -> None:
    basis = {
        "id": "b",
        "legislation": "Act",
        "requester": "not-yet-a-member",
        "fields": ["people.address"],
        "purpose": "tax",
    }
    assert document(purposes=[PURPOSE], fields=[FIELD], statutory_bases=[basis]).statutory_bases
