"""Tell us you have changed your address: the People register's declared service (SQLite and
PostgreSQL). The action changes the address through the register's own use case, in the
submit transaction: the record and one notice per service to tell are written together, and
the confirmation says which services are told. /my/details/address keeps working the same
(tests/integration/test_registers_pages.py); the notices' delivery is tellusonce's
(test_tellusonce_delivery.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.keys import KeyPair
from digitalstate.registers.models import OutboxMessage, RegisterRecord
from digitalstate.services.models import Application
from integration.registers_support import ADDRESS, PERSON, add_consent, add_record
from integration.services_support import add_sign_in_route
from support.clients import InProcessClient
from support.federation import federation_document, member, member_of
from support.nodes import InProcessNode, node_settings, running_node

CHANGE = "/services/change-your-address"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="submission_token" value="([^"]+)"')
OTHER = "z" * 32
NEW = {
    "new-address-line-1": "22 Dale Street",
    "new-address-town": "Liverpool",
    "new-address-postcode": "l2 2ab",
}


@pytest.fixture
def register(tmp_path: Path, migrated_database_url: str) -> Iterator[InProcessNode]:
    settings = node_settings(
        tmp_path / "people-register",
        "people-register",
        migrated_database_url,
        name="People register",
        roles=["register", "service"],
        extra={"services": {"files": [str(DEMO_SERVICES / "change-your-address.toml")]}},
    )
    peers = (
        member("liverpool-pensions", KeyPair.generate(), name="Liverpool: pensions"),
        member("newcastle-tax", KeyPair.generate(), name="Newcastle: tax"),
    )
    document = federation_document((member_of(settings), *peers))
    with running_node(settings, document, background=False, prepare=add_sign_in_route) as node:
        with node.runtime.sessions.begin() as session:
            add_record(session)
            add_consent(session, requester="liverpool-pensions")
            add_consent(session, requester="newcastle-tax", notify=False)
        yield node


def csrf(http: InProcessClient, path: str) -> str:
    found = CSRF.search(http.get(path).text)
    assert found, path
    return found.group(1)


def answer(http: InProcessClient, page: str, data: dict[str, str]) -> None:
    path = f"{CHANGE}/{page}"
    sent = http.post(path, data={"csrf_token": csrf(http, path), **data})
    assert sent.status_code == 303, sent.text


def change(http: InProcessClient, person: str = PERSON) -> str:
    """Sign in as person, answer the journey and send it: where submitting went."""
    http.client.cookies.clear()
    assert http.get("/test/sign-in", params={"sub": person}).status_code == 204
    begun = http.get(f"{CHANGE}/begin")
    assert begun.headers["location"] == f"{CHANGE}/new-address"  # nothing pre-filled: no consent
    answer(http, "new-address", NEW)
    answer(http, "moved-on", {"moved-on-day": "1", "moved-on-month": "3", "moved-on-year": "2026"})
    check = http.get(f"{CHANGE}/check-answers")
    token = TOKEN.search(check.text)
    assert token, check.text
    form = {"csrf_token": csrf(http, f"{CHANGE}/check-answers"), "submission_token": token[1]}
    sent = http.post(f"{CHANGE}/submit", data=form)
    assert sent.status_code == 303
    return str(sent.headers["location"])


def record(node: InProcessNode, pseudonym: str = PERSON) -> tuple[dict[str, Any], int]:
    with node.runtime.sessions.begin() as session:
        row = session.get(RegisterRecord, pseudonym)
        assert row is not None
        return json.loads(row.data), row.version


def test_the_declared_journey_changes_the_address_and_queues_the_notices(
    register: InProcessNode,
) -> None:
    went = change(register.http)
    assert went.startswith(f"{CHANGE}/confirmation/CA-")
    data, version = record(register)
    assert data["people.address"] == {
        "lines": ["22 Dale Street"],
        "town": "Liverpool",
        "postcode": "L2 2AB",
    }
    assert version == 2
    with register.runtime.sessions.begin() as session:
        notices = [
            (n.requester, json.loads(n.fields), n.version)
            for n in session.scalars(select(OutboxMessage))
        ]
        application = session.scalars(select(Application)).one()
        assert application.status == "approved"
    # Only the service that asked to be told is told; the other keeps its consent.
    assert notices == [("liverpool-pensions", ["people.address"], 2)]
    confirmation = register.http.get(went)
    assert "Who we will tell" in confirmation.text
    assert "Liverpool: pensions: not told yet (we keep trying)" in confirmation.text
    assert "Newcastle: tax" not in confirmation.text
    assert "/my/details/changes/2" in confirmation.text
    # The register's own page of the change says the same.
    assert "Liverpool: pensions" in register.http.get("/my/details/changes/2").text


def test_a_person_with_no_record_here_is_refused_and_nothing_is_written(
    register: InProcessNode,
) -> None:
    went = change(register.http, OTHER)
    reference = went.rsplit("/", 1)[1]
    page = register.http.get(f"/applications/{reference}")
    assert "The People register holds no record of you" in page.text
    with register.runtime.sessions.begin() as session:
        assert session.get(RegisterRecord, OTHER) is None
        assert session.scalars(select(OutboxMessage)).first() is None
    assert record(register) == ({**record(register)[0], "people.address": ADDRESS}, 1)


def test_another_person_cannot_see_the_change(register: InProcessNode) -> None:
    went = change(register.http)
    reference = went.rsplit("/", 1)[1]
    register.http.client.cookies.clear()
    assert register.http.get("/test/sign-in", params={"sub": OTHER}).status_code == 204
    assert register.http.get(f"/applications/{reference}").status_code == 404
    assert register.http.get(went).status_code == 404
