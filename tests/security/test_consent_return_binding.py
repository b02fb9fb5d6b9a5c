"""A person cannot take over another person's consent at a service (issue 8, finding B).

The way back from the charter's consent screen carries a request id and a consent id. Both
are claims: bob, holding sample person dorota's consent id, typed it into the link of his own
request and saw her address and date of birth at pensions, then was told of her changes. The
service now keeps a consent only when the charter says it answered this request for this
person, and takes each answer once (docs/adr/0012-consent-return-binding.md).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

import pytest
from log_support import logged_entries
from sqlalchemy import func, select

from digitalstate.demo.federation import demo_service
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.identity.service import pseudonym_for
from digitalstate.registers.service import change_fields
from digitalstate.services.models import ServiceConsent, ServiceConsentReturn, ServiceCopy
from digitalstate.services.returns import ReturnRefusedError, check_outcome
from digitalstate.tellusonce.models import ReceivedNotice
from integration.services_support import (
    Citizen,
    Federation,
    charter_runtime,
    go_to_the_charter,
    running_federation,
)
from support.nodes import node_runtime

DOROTA_RECORD = {
    "people.address": {"lines": ["7 Bold Street"], "town": "Liverpool", "postcode": "L1 4DJ"},
    "people.date_of_birth": "1948-09-17",
}
DOROTA_MOVES = {"lines": ["9 Hope Street"], "town": "Liverpool", "postcode": "L1 9BH"}
BOB_RECORD = {
    "people.address": {"lines": ["3 Lark Lane"], "town": "Liverpool", "postcode": "L17 8US"},
    "people.date_of_birth": "1951-01-30",
}


@pytest.fixture
def federation(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[Federation]:
    yield from running_federation(tmp_path, migrated_database_url, more_databases)


@pytest.fixture
def bob(federation: Federation) -> Citizen:
    return federation.add_citizen("bob", BOB_RECORD)


@pytest.fixture
def dorota(federation: Federation) -> Citizen:
    return federation.add_citizen("dorota", DOROTA_RECORD)


def dorotas_consent(federation: Federation, dorota: Citizen) -> str:
    """Dorota asks at pensions and says yes at the charter; her browser never comes back."""
    federation.sign_in(dorota)
    return federation.agree(go_to_the_charter(federation, dorota), dorota)


def come_back(federation: Federation, request_id: str, consent_id: str) -> Any:
    """Follow the link back from the charter, as the browser would."""
    return federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )


def assert_nothing_kept(federation: Federation, consent_id: str) -> None:
    with federation.pensions_sessions().begin() as session:
        assert session.get(ServiceConsent, consent_id) is None
        assert session.get(ServiceCopy, consent_id) is None


def reads_under(federation: Federation, consent_id: str) -> list[str]:
    """The outcomes of the register's reads under consent_id."""
    with federation.holder_sessions().begin() as session:
        return [
            e.outcome
            for e in logged_entries(session)
            if e.consent_id == consent_id and e.action == "read"
        ]


@pytest.mark.parametrize("bob_agreed", [False, True], ids=["bob-not-answered", "bob-agreed"])
def test_bob_bringing_back_dorotas_consent_id_is_refused_and_reads_nothing_of_hers(
    federation: Federation, bob: Citizen, dorota: Citizen, bob_agreed: bool
) -> None:
    hers = dorotas_consent(federation, dorota)
    federation.sign_in(bob)
    request_id = go_to_the_charter(federation, bob)
    if bob_agreed:
        federation.agree(request_id, bob)

    page = come_back(federation, request_id, hers)

    assert page.status_code == 403
    assert "We cannot use this permission" in page.text
    details = federation.browser.get("/service/details").text
    assert "7 Bold Street" not in details and "17 September 1948" not in details
    assert_nothing_kept(federation, hers)
    assert reads_under(federation, hers) == []
    with federation.pensions_sessions().begin() as session:
        assert session.get(ServiceConsentReturn, request_id) is None


def test_the_charter_shows_dorota_that_her_consent_id_was_brought_back_by_someone_else(
    federation: Federation, bob: Citizen, dorota: Citizen
) -> None:
    hers = dorotas_consent(federation, dorota)
    federation.sign_in(bob)
    come_back(federation, go_to_the_charter(federation, bob), hers)

    with charter_runtime(federation) as charter:
        pseudonym = pseudonym_for(charter, "charter", dorota.person_id)
    with federation.charter_sessions().begin() as session:
        [entry] = logged_entries(session, pseudonym)
    assert (entry.action, entry.outcome) == ("refused", "refused")
    assert entry.consent_id == hers and entry.requester == "liverpool-pensions"
    assert "did not answer" in entry.reason


def test_bob_is_not_told_of_dorotas_changes_after_the_refusal(
    federation: Federation, bob: Citizen, dorota: Citizen
) -> None:
    hers = dorotas_consent(federation, dorota)
    federation.sign_in(bob)
    come_back(federation, go_to_the_charter(federation, bob), hers)

    with federation.holder_sessions().begin() as session:
        change_fields(
            session,
            pseudonym=dorota.holder_pseudonym,
            changes={"people.address": DOROTA_MOVES},
            now=datetime.now(UTC),
            catalogue=load_catalogue().fields,
        )
    wait_for_the_notice_to_be_handled(federation, hers)

    assert_nothing_kept(federation, hers)
    assert reads_under(federation, hers) == []
    assert "9 Hope Street" not in federation.browser.get("/service/details").text


def wait_for_the_notice_to_be_handled(federation: Federation, consent_id: str) -> None:
    """Until pensions has received and processed the register's notice under consent_id."""
    query = select(func.count()).where(
        ReceivedNotice.consent_id == consent_id, ReceivedNotice.processed_at.is_not(None)
    )
    deadline = time.monotonic() + 15
    while True:
        with federation.pensions_sessions().begin() as session:
            if session.scalar(query):
                return
        assert time.monotonic() < deadline, "pensions was not told of the change"
        time.sleep(0.1)


def test_dorota_can_still_use_her_own_consent_after_bobs_attempt(
    federation: Federation, bob: Citizen, dorota: Citizen
) -> None:
    federation.sign_in(dorota)
    her_request = go_to_the_charter(federation, dorota)
    hers = federation.agree(her_request, dorota)
    her_browser = saved_cookies(federation)
    federation.browser.cookies.clear()
    federation.sign_in(bob)
    assert come_back(federation, go_to_the_charter(federation, bob), hers).status_code == 403

    restore_cookies(federation, her_browser)
    page = come_back(federation, her_request, hers)

    assert page.status_code == 303
    assert "7 Bold Street" in federation.browser.get("/service/details").text
    with federation.pensions_sessions().begin() as session:
        kept = session.get(ServiceConsent, hers)
        assert kept is not None and kept.subject == dorota.subject


def test_the_answer_to_a_request_is_taken_once_even_with_a_copied_session(
    federation: Federation,
) -> None:
    federation.sign_in()
    request_id = go_to_the_charter(federation)
    consent_id = federation.agree(request_id)
    before = saved_cookies(federation)

    first = come_back(federation, request_id, consent_id)
    restore_cookies(federation, before)  # the session as it was before the way back
    again = come_back(federation, request_id, consent_id)

    assert first.status_code == 303
    assert again.status_code == 403 and "We cannot use this permission" in again.text
    with federation.pensions_sessions().begin() as session:
        assert session.scalar(select(func.count()).select_from(ServiceConsentReturn)) == 1


def saved_cookies(federation: Federation) -> list[Cookie]:
    """The browser's cookies as they are now."""
    return [copy.copy(cookie) for cookie in federation.browser.cookies.jar]


def restore_cookies(federation: Federation, cookies: list[Cookie]) -> None:
    """Put the browser's cookies back as they were saved."""
    federation.browser.cookies.clear()
    for cookie in cookies:
        federation.browser.cookies.jar.set_cookie(cookie)


def test_a_consent_that_answered_another_request_of_the_same_person_is_refused(
    federation: Federation,
) -> None:
    federation.sign_in()
    earlier = federation.agree(go_to_the_charter(federation))
    request_id = go_to_the_charter(federation)

    page = come_back(federation, request_id, earlier)

    assert page.status_code == 403
    assert_nothing_kept(federation, earlier)


def test_a_consent_given_to_another_member_is_refused(federation: Federation) -> None:
    others = federation.agree(ask_as_the_register(federation), federation.ada)
    federation.sign_in()
    request_id = go_to_the_charter(federation)

    page = come_back(federation, request_id, others)

    assert page.status_code == 403
    assert_nothing_kept(federation, others)


def test_the_charter_tells_a_member_nothing_of_another_members_request(
    federation: Federation,
) -> None:
    federation.sign_in()
    request_id = go_to_the_charter(federation)
    consent_id = federation.agree(request_id)

    status, body = asyncio.run(
        as_the_register(
            federation,
            f"/exchange/v1/consent-requests/{request_id}/outcome",
            {"consent_id": consent_id},
        )
    )

    assert status == 404 and body["type"] == "urn:digitalstate:problem:not-found"
    assert consent_id not in str(body)


def ask_as_the_register(federation: Federation) -> str:
    """The People register asks the charter for Ada's consent to read its own fields."""
    body = {
        "subject": federation.ada.holder_pseudonym,
        "holder": "people-register",
        "fields": ["people.address", "people.date_of_birth"],
        "purpose": "pension-administration",
        "duration_days": 30,
        "notify": False,
        "return_url": federation.register.node.base_url + "/back",
    }
    status, answer = asyncio.run(as_the_register(federation, "/exchange/v1/consent-requests", body))
    assert status == 201, answer
    request_id: str = answer["request_id"]
    return request_id


async def as_the_register(
    federation: Federation, path: str, body: dict[str, Any]
) -> tuple[int, Any]:
    """Call the charter signed as the People register."""
    register = node_runtime(federation.register)
    assert register.keeper.load_cache()
    try:
        response = await register.client.call("charter", "POST", path, json_body=body)
        return response.status, response.json()
    finally:
        await register.client.close()
        register.engine.dispose()


ASKED = {
    "request_id": "r" * 36,
    "consent_id": "c" * 36,
    "subject": "bob" + "x" * 29,
    "holder": "people-register",
    "fields": ["people.date_of_birth", "people.address"],
    "purpose": "pension-administration",
    "notify": True,
    "status": "active",
}


@pytest.mark.parametrize(
    "change",
    [
        {"request_id": "another"},
        {"consent_id": "another"},
        {"subject": "dorota" + "x" * 26},
        {"holder": "swansea-motoring"},
        {"fields": ["people.address"]},
        {"fields": ["people.address", "people.date_of_birth", "people.given_names"]},
        {"fields": "people.address"},
        {"purpose": "electoral-canvass"},
        {"notify": False},
        {"status": "withdrawn"},
        {"status": "expired"},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items())[:40],
)
def test_an_answer_from_the_charter_other_than_what_was_asked_is_refused(
    change: dict[str, Any],
) -> None:
    entry = demo_service("liverpool-pensions")
    expected = {k: ASKED[k] for k in ("request_id", "consent_id", "subject")}
    check_outcome(dict(ASKED), entry=entry, **expected)  # as asked: accepted

    with pytest.raises(ReturnRefusedError):
        check_outcome(ASKED | change, entry=entry, **expected)
