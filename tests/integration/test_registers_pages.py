"""A person's pages at the People register: see your details, change your address, see who was told.

The register runs in-process on SQLite and PostgreSQL. The person is signed in the way the
relying party leaves them after the charter's answer: a session cookie holding this node's
pseudonym for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from digitalstate.registers.models import OutboxMessage, RegisterRecord
from integration.registers_support import (
    OTHER_PERSON,
    PERSON,
    RegisterNode,
    add_consent,
    add_record,
    start_register,
)

FORM = {
    "address-line-1": "4 Quay Street",
    "address-line-2": "",
    "address-town": "Cardiff",
    "address-postcode": "cf10 1ep",
}


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[RegisterNode]:
    yield from start_register(tmp_path / "people-register", migrated_database_url)


def text_of(response: httpx.Response) -> str:
    """The page's text with tags removed and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


def post_address(node: RegisterNode, token: str, **changes: str) -> httpx.Response:
    form = {**FORM, **changes, "csrf_token": token}
    return node.http.request("POST", "/my/details/address", data=form)


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(node: RegisterNode) -> None:
    response = node.http.request("GET", "/my/details")
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/sign-in?next=%2Fmy%2Fdetails"


def test_the_details_page_lists_what_the_register_holds_with_a_way_to_change_the_address(
    node: RegisterNode,
) -> None:
    with node.sessions.begin() as session:
        add_record(session)
    node.sign_in()

    response = node.http.request("GET", "/my/details")

    assert response.status_code == 200
    text = text_of(response)
    assert "Your details at People register" in text
    assert "Given names Alice" in text
    assert "Date of birth 1 June 1958" in text
    assert "Address 12 Mill Lane Swansea SA1 1AA" in text
    assert "Email address Not held" in text
    assert 'href="/my/details/address"' in response.text
    assert "Change address" in text  # the link's visually hidden text names what it changes


def test_the_details_page_says_when_nothing_is_held(node: RegisterNode) -> None:
    node.sign_in(OTHER_PERSON)
    response = node.http.request("GET", "/my/details")
    assert response.status_code == 200
    assert "People register holds no details about you." in text_of(response)


def test_the_address_question_shows_the_address_and_who_will_be_told(node: RegisterNode) -> None:
    with node.sessions.begin() as session:
        add_record(session)
        add_consent(session, granted_at=datetime(2026, 2, 19, 9, 0, tzinfo=UTC))
        add_consent(session, requester="prisons", fields=("people.date_of_birth",))
    node.sign_in()

    response = node.http.request("GET", "/my/details/address")

    assert response.status_code == 200
    text = text_of(response)
    assert "What is your address?" in text
    assert 'value="12 Mill Lane"' in response.text
    assert 'value="SA1 1AA"' in response.text
    assert (
        "When you change your address, we will tell: Liverpool: pensions (you agreed on "
        "19 February 2026)" in text
    )
    assert "prisons" not in text.lower()
    assert 'name="csrf_token"' in response.text


def test_the_address_question_says_when_no_service_will_be_told(node: RegisterNode) -> None:
    with node.sessions.begin() as session:
        add_record(session)
    node.sign_in()
    text = text_of(node.http.request("GET", "/my/details/address"))
    assert "No services have asked to be told when your address changes." in text


def test_an_address_with_errors_is_shown_again_with_an_error_summary(node: RegisterNode) -> None:
    with node.sessions.begin() as session:
        add_record(session)
    token = node.sign_in()

    response = post_address(node, token, **{"address-town": " ", "address-postcode": "CF10"})

    assert response.status_code == 400
    assert "<title>Error: " in response.text
    text = text_of(response)
    assert "There is a problem" in text
    assert 'href="#address-town"' in response.text
    assert 'href="#address-postcode"' in response.text
    assert "Error: Enter town or city" in text
    assert "Error: Enter a real postcode" in text
    assert 'value="4 Quay Street"' in response.text  # what was typed is kept
    with node.sessions.begin() as session:
        record = session.get(RegisterRecord, PERSON)
        assert record is not None and record.version == 1


def test_a_form_without_the_csrf_token_is_refused(node: RegisterNode) -> None:
    with node.sessions.begin() as session:
        add_record(session)
    node.sign_in()
    response = node.http.request("POST", "/my/details/address", data=FORM)
    assert response.status_code == 403
    with node.sessions.begin() as session:
        record = session.get(RegisterRecord, PERSON)
        assert record is not None and record.version == 1


def test_changing_the_address_tells_the_services_and_shows_their_progress(
    node: RegisterNode,
) -> None:
    with node.sessions.begin() as session:
        add_record(session)
        consent = add_consent(session)
    token = node.sign_in()
    assert not node.runtime.event("outbox").is_set()

    response = post_address(node, token)

    assert response.status_code == 303
    assert response.headers["location"] == "/my/details/changes/2"
    assert node.runtime.event("outbox").is_set()  # the delivery worker is woken at once
    with node.sessions.begin() as session:
        record = session.get(RegisterRecord, PERSON)
        assert record is not None
        assert json.loads(record.data)["people.address"] == {
            "lines": ["4 Quay Street"],
            "town": "Cardiff",
            "postcode": "CF10 1EP",
        }
        [notice] = session.scalars(select(OutboxMessage)).all()
        assert (notice.consent_id, notice.version) == (consent, 2)

    page = node.http.request("GET", "/my/details/changes/2")
    assert page.status_code == 200
    text = text_of(page)
    assert "Address changed" in text
    assert "Liverpool: pensions Not told yet (we keep trying)" in text

    with node.sessions.begin() as session:
        session.scalars(select(OutboxMessage)).one().delivered_at = datetime(
            2026, 3, 1, 10, 42, 5, tzinfo=UTC
        )
    assert "Liverpool: pensions Told at 10:42" in text_of(
        node.http.request("GET", "/my/details/changes/2")
    )


def test_the_same_address_again_changes_nothing(node: RegisterNode) -> None:
    with node.sessions.begin() as session:
        add_record(session)
    token = node.sign_in()
    response = post_address(
        node,
        token,
        **{
            "address-line-1": "12 Mill Lane",
            "address-town": "Swansea",
            "address-postcode": "SA1 1AA",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/my/details"


def test_a_change_that_was_not_made_has_no_page(node: RegisterNode) -> None:
    with node.sessions.begin() as session:
        add_record(session)
    node.sign_in()
    assert node.http.request("GET", "/my/details/changes/2").status_code == 404
    assert node.http.request("GET", "/my/details/changes/1").status_code == 404


def test_changes_of_another_person_are_not_shown(node: RegisterNode) -> None:
    with node.sessions.begin() as session:
        add_record(session)
        add_record(session, OTHER_PERSON, data={})
        add_consent(session)
    token = node.sign_in()
    assert post_address(node, token).status_code == 303

    node.sign_in(OTHER_PERSON)
    response: Any = node.http.request("GET", "/my/details/changes/2")
    assert response.status_code == 404
