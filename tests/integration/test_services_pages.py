"""A service's pages against real nodes on loopback: the charter, the People register, pensions.

The nodes, the browser and the way Ada signs in and agrees are in services_support.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from digitalstate.consent.models import HeldConsent
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.registers.service import change_fields
from digitalstate.services.models import ServiceConsent, ServiceCopy
from digitalstate.services.service import refresh_copy
from digitalstate.settings import NodeSettings
from integration.services_support import (
    NEW_ADDRESS,
    Federation,
    go_to_the_charter,
    running_federation,
)
from support.nodes import node_runtime


@pytest.fixture
def federation(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[Federation]:
    yield from running_federation(tmp_path, migrated_database_url, more_databases)


def test_the_start_page_says_what_the_service_needs_and_starts(federation: Federation) -> None:
    page = federation.browser.get("/service")
    assert page.status_code == 200
    assert "Check your State Pension details" in page.text
    assert "Address" in page.text and "Date of birth" in page.text
    assert 'href="/service/details"' in page.text and "Start now" in page.text


def test_the_details_page_sends_a_visitor_who_is_not_signed_in_to_sign_in(
    federation: Federation,
) -> None:
    answer = federation.browser.get("/service/details")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/sign-in?next=%2Fservice%2Fdetails"


def test_a_person_without_a_consent_is_asked_with_the_purpose_wording(
    federation: Federation,
) -> None:
    federation.sign_in()
    page = federation.browser.get("/service/details")
    assert page.status_code == 200
    assert "We need your details from the People register" in page.text
    assert "to work out and pay your State Pension" in page.text  # the catalogue's wording
    assert "365 days" in page.text
    assert 'action="/service/details"' in page.text and "Continue" in page.text


def test_continue_without_the_csrf_token_is_refused(federation: Federation) -> None:
    federation.sign_in()
    federation.browser.get("/service/details")
    assert federation.browser.post("/service/details", data={}).status_code == 403


def test_agreeing_at_the_charter_brings_back_the_details_from_the_register(
    federation: Federation,
) -> None:
    federation.sign_in()
    request_id = go_to_the_charter(federation)
    consent_id = federation.agree(request_id)

    back = federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )

    assert back.status_code == 303 and back.headers["location"] == "/service/details"
    page = federation.browser.get("/service/details")
    assert "1 High Street" in page.text and "L1 1AA" in page.text
    assert "2 April 1950" in page.text
    assert "Ada" not in page.text  # a field the consent does not cover is never read
    assert "Last updated from the People register at" in page.text
    with federation.pensions_sessions().begin() as session:
        held = session.get(ServiceConsent, consent_id)
        assert held is not None and held.status == "active"
        assert held.subject == federation.ada.subject
        copy = session.get(ServiceCopy, consent_id)
        assert copy is not None and copy.version == 1


def test_the_way_back_works_once_and_only_for_the_request_this_browser_made(
    federation: Federation,
) -> None:
    federation.sign_in()
    request_id = go_to_the_charter(federation)
    consent_id = federation.agree(request_id)

    forged = federation.browser.get(
        "/service/consent-return", params={"request_id": "another", "consent_id": consent_id}
    )
    again = federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )

    assert forged.status_code == again.status_code == 400
    assert "This link cannot be used" in forged.text
    with federation.pensions_sessions().begin() as session:
        assert session.get(ServiceConsent, consent_id) is None


def test_saying_no_at_the_charter_shows_what_to_do_instead(federation: Federation) -> None:
    federation.sign_in()
    request_id = go_to_the_charter(federation)

    page = federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "error": "access_denied"}
    )

    assert page.status_code == 200
    assert "You chose not to share your details" in page.text
    assert "What you can do instead" in page.text


def test_a_change_at_the_register_reaches_the_service_and_a_withdrawal_stops_the_copy(
    federation: Federation,
) -> None:
    federation.sign_in()
    request_id = go_to_the_charter(federation)
    consent_id = federation.agree(request_id)
    federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )

    with federation.holder_sessions().begin() as session:
        change_fields(
            session,
            pseudonym=federation.ada.holder_pseudonym,
            changes={"people.address": NEW_ADDRESS},
            now=datetime.now(UTC),
            catalogue=load_catalogue().fields,
        )
    deadline = time.monotonic() + 10
    while "22 Dale Street" not in (page := federation.browser.get("/service/details")).text:
        assert time.monotonic() < deadline, "the service was not told of the change"
        time.sleep(0.1)
    assert "L2 2AB" in page.text

    with federation.holder_sessions().begin() as session:
        session.execute(
            update(HeldConsent)
            .where(HeldConsent.id == consent_id)
            .values(status="withdrawn", withdrawn_at=datetime.now(UTC))
        )
    outcome = asyncio.run(_refresh(federation.pensions, consent_id))

    assert outcome == "refused"
    page = federation.browser.get("/service/details")
    assert "We can no longer get your details" in page.text
    assert "We no longer keep them up to date" in page.text
    assert "22 Dale Street" in page.text  # the last copy is kept, marked as not updated
    assert "Ask me again" in page.text


async def _refresh(settings: NodeSettings, consent_id: str) -> str:
    runtime = node_runtime(settings)
    assert runtime.keeper.load_cache()
    try:
        return (await refresh_copy(runtime, consent_id)).outcome
    finally:
        await runtime.client.close()
        runtime.engine.dispose()


def test_continue_when_the_charter_cannot_be_reached_says_there_is_a_problem(
    federation: Federation,
) -> None:
    federation.sign_in()
    token = federation.csrf()
    federation.servers["charter"].stop()

    page = federation.browser.post("/service/details", data={"csrf_token": token})

    assert page.status_code == 503
    assert "There is a problem" in page.text
    assert "We could not ask your digitalstate account for your permission" in page.text
    assert 'action="/service/details"' in page.text  # the person can try again
