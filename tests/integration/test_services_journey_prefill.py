"""Pre-fill, never re-ask: a journey offers the values a register gave under the person's consent.

The charter, the People register and pensions run on loopback (services_support); pensions
runs journey_support's bus pass service. With no consent yet, starting the journey sends the
person to the charter's consent screen; agreeing brings them back to the journey, where each
question a register's value can answer offers it ("use the date of birth we already hold");
saying no there, or at the charter, leaves them to type their answers. What is sent is only
what the person confirmed, and each answer says where it came from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from digitalstate.consent.models import ConsentRequest
from digitalstate.services.models import Application, ServiceDraft
from integration.journey_support import ADDRESS_FORM, BUS, BUS_PASS, write_definitions
from integration.services_support import Federation, running_federation


@pytest.fixture
def federation(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[Federation]:
    files = write_definitions(tmp_path / "definitions", {"bus-pass.toml": BUS_PASS})
    yield from running_federation(tmp_path, migrated_database_url, more_databases, files)


def answer(federation: Federation, page: str, data: dict[str, Any]) -> httpx.Response:
    path = f"{BUS}/{page}"
    return federation.browser.post(path, data={"csrf_token": federation.csrf(path), **data})


def start_and_share(federation: Federation) -> str:
    """Start the journey and say yes to sharing: the request id the charter issued."""
    federation.sign_in()
    ask = federation.browser.get(f"{BUS}/begin")
    assert ask.status_code == 200 and "We can fill in some of your answers" in ask.text
    assert "to work out and pay your State Pension" in ask.text  # the purpose's wording
    token = federation.csrf(f"{BUS}/begin")
    sent = federation.browser.post(f"{BUS}/consent", data={"csrf_token": token, "choice": "share"})
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(federation.charter.node.base_url + "/consent/")
    with federation.charter_sessions().begin() as session:
        asked = session.scalars(
            select(ConsentRequest).where(ConsentRequest.subject == federation.ada.subject)
        ).one()
        assert asked.return_url == federation.pensions.node.base_url + f"{BUS}/consent-return"
        assert json.loads(asked.fields) == ["people.address", "people.date_of_birth"]
        return asked.id


def test_agreeing_at_the_charter_offers_the_held_values_and_records_where_each_came_from(
    federation: Federation,
) -> None:
    request_id = start_and_share(federation)
    consent_id = federation.agree(request_id)
    back = federation.browser.get(
        f"{BUS}/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )
    assert back.status_code == 303 and back.headers["location"] == f"{BUS}/name"
    answer(federation, "name", {"full-name": "Ada Lovelace"})

    offered = federation.browser.get(f"{BUS}/date-of-birth")
    assert "Use the date of birth we already hold: 2 April 1950" in offered.text
    assert "No, I need to change it" in offered.text
    # Neither yes nor no: the error links to the choice.
    unanswered = answer(federation, "date-of-birth", {})
    assert unanswered.status_code == 400
    assert (
        'href="#date-of-birth-use-held">Select yes if you want to use the date of birth we '
        "already hold</a>"
    ) in unanswered.text
    assert answer(federation, "date-of-birth", {"date-of-birth-use-held": "yes"}).status_code == 303

    address = federation.browser.get(f"{BUS}/address")
    assert "Use the address we already hold: 1 High Street, Liverpool, L1 1AA" in address.text
    # No, and a new address typed: the held one is not what is sent.
    moved = answer(federation, "address", {"address-use-held": "no", **ADDRESS_FORM})
    assert moved.status_code == 303
    assert 'value="yes" checked' in federation.browser.get(f"{BUS}/date-of-birth").text
    for page, data in [("contact", {"contact": "post"}), ("proof", {}), ("notes", {})]:
        assert answer(federation, page, data).status_code == 303

    check = federation.browser.get(f"{BUS}/check-answers")
    assert (
        '2 April 1950<br><span class="govuk-hint">From People register, with your permission'
        in check.text
    )
    assert "22 Dale Street" in check.text and "1 High Street" not in check.text
    token = check.text.split('name="submission_token" value="')[1].split('"')[0]
    sent = federation.browser.post(
        f"{BUS}/submit",
        data={"csrf_token": federation.csrf(f"{BUS}/check-answers"), "submission_token": token},
    )
    assert sent.status_code == 303

    with federation.pensions_sessions().begin() as session:
        application = session.scalars(select(Application)).one()
        answers = json.loads(application.answers)
        sources = json.loads(application.sources)
    assert answers["date-of-birth"] == "1950-04-02"
    assert answers["address"] == {
        "lines": ["22 Dale Street"],
        "town": "Liverpool",
        "postcode": "L2 2AB",
    }
    held = sources["date-of-birth"]
    assert held["register"] == "people-register" and held["field"] == "people.date_of_birth"
    assert held["consent_id"] == consent_id and held["version"] == 1 and held["read_at"]
    assert sources["address"] == sources["full-name"] == "entered"


def test_saying_no_at_the_charter_leaves_the_person_to_type_their_answers(
    federation: Federation,
) -> None:
    request_id = start_and_share(federation)
    back = federation.browser.get(
        f"{BUS}/consent-return", params={"request_id": request_id, "error": "access_denied"}
    )
    assert back.status_code == 303 and back.headers["location"] == f"{BUS}/name"
    answer(federation, "name", {"full-name": "Ada Lovelace"})
    page = federation.browser.get(f"{BUS}/date-of-birth")
    assert "we already hold" not in page.text and 'name="date-of-birth-day"' in page.text
    with federation.pensions_sessions().begin() as session:
        assert session.scalars(select(ServiceDraft.consent)).one() == "declined"
    # Coming back does not ask again.
    assert federation.browser.get(f"{BUS}/begin").headers["location"] == f"{BUS}/date-of-birth"


def test_choosing_to_type_the_answers_never_goes_to_the_charter(federation: Federation) -> None:
    federation.sign_in()
    token = federation.csrf(f"{BUS}/begin")
    chose = federation.browser.post(f"{BUS}/consent", data={"csrf_token": token, "choice": "type"})
    assert chose.headers["location"] == f"{BUS}/name"
    with federation.charter_sessions().begin() as session:
        assert session.scalars(select(ConsentRequest)).first() is None


def test_a_way_back_this_browser_did_not_start_is_refused_and_keeps_the_answers(
    federation: Federation,
) -> None:
    start_and_share(federation)
    forged = federation.browser.get(
        f"{BUS}/consent-return", params={"request_id": "another", "consent_id": "c"}
    )
    assert forged.status_code == 400 and "This link cannot be used" in forged.text
    assert f'href="{BUS}/begin"' in forged.text
