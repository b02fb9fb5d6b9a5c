"""Every person-scoped route, read from the apps' own route tables, tried across two people.

Ada and Bea each have a record at the People register, a consent the pensions service holds,
a read under it and a helper; Bea also has a consent request waiting. Signed in as Ada, every
person route with a parameter is called with Bea's ids: it must refuse (403/404) and show
nothing of Bea's. Every person route is called without a session: it must send the browser
to sign in, or refuse. Members are tried on each other's consents over the signed exchange.
A route the classification in security/support.py does not know fails the first test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from digitalstate.consent.models import Consent, ConsentRequest, HeldConsent
from digitalstate.exchange.server import EXCHANGE_PREFIX
from digitalstate.identity.models import Delegation
from digitalstate.identity.service import grant_delegation, pseudonym_for
from digitalstate.problems import PROBLEM_MEDIA_TYPE
from digitalstate.registers.models import RegisterRecord
from integration.consent_support import (
    ELECTORAL,
    PENSIONS,
    Federation,
    add_person_with_record,
    agree,
    ask,
    read_address,
    start_federation,
)
from integration.registers_support import (
    OTHER_PERSON,
    PERSON,
    RegisterNode,
    add_record,
    start_register,
)
from security.support import (
    EXCHANGE,
    OPERATOR,
    REMOTE,
    ROUTES,
    build_role_apps,
    call_unstarted,
    fill,
    route_table,
    routes_of_kind,
    started,
)
from security.support import (
    PERSON as PERSON_ROUTE,
)

PURPOSE = "pension-administration"
READ = "/exchange/v1/records/read"


@dataclass(frozen=True)
class Person:
    """A seeded person: their ids in each route parameter, and what must never leak."""

    email: str
    person_id: str
    ids: dict[str, str]
    secrets: tuple[str, ...]


@pytest.fixture(scope="module")
def role_apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    """An app of every node role and the trust anchor's, built once, never started."""
    return build_role_apps(tmp_path_factory.mktemp("roles"))


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """A charter (in-process) and People register (loopback), on SQLite, for the module."""
    tmp = tmp_path_factory.mktemp("fed")
    yield from start_federation(tmp, f"sqlite:///{tmp / 'charter.db'}", f"sqlite:///{tmp}/p.db")


def _seed(fed: Federation, email: str, name: str, postcode: str) -> Person:
    """A person with a record, a consent, a read under it, a helper and a waiting request."""
    address = {"lines": [f"1 {name} Street"], "town": "Liverpool", "postcode": postcode}
    person_id = add_person_with_record(fed, email, name, address)
    consent_id = agree(fed, person_id)
    read = read_address(fed, consent_id)
    assert read.status == 200, read.body
    helper = f"helper-of-{email}"
    fed.add_person(helper, f"Helper of {name}")
    now = datetime.now(UTC)
    with fed.charter.sessions.begin() as session:
        delegation = grant_delegation(
            session,
            person_id=person_id,
            helper_email=helper,
            scope="consent",
            expires_at=now + timedelta(days=30),
            now=now,
        )
        delegation_id = delegation.id
    request_id = ask(fed, person_id)["request_id"]
    ids = {"consent_id": consent_id, "request_id": request_id, "delegation_id": delegation_id}
    return Person(email, person_id, ids, (consent_id, request_id, name, postcode, helper, email))


@pytest.fixture(scope="module")
def people(fed: Federation) -> tuple[Person, Person]:
    """Ada and Bea, seeded; Ada is signed in (once: sign-in may be throttled)."""
    bea = _seed(fed, "bea@example.org", "Bea Other", "L9 9ZZ")
    ada = _seed(fed, "ada@example.org", "Ada Lovelace", "L1 1AA")
    return ada, bea


def _send(fed: Federation, method: str, url: str) -> httpx.Response:
    if method == "GET":
        return fed.browser.get(url)
    token = fed.browser.csrf("/my/helpers")
    return fed.browser.post(url, data={"csrf_token": token, "answer": "yes"})


# --- the classification --------------------------------------------------------------------


def test_every_route_of_every_node_role_and_the_anchor_is_classified(
    role_apps: dict[str, FastAPI],
) -> None:
    served: set[tuple[str, str]] = set()
    unclassified: list[str] = []
    for name, app in role_apps.items():
        table = route_table(app)
        served |= table
        unclassified += [f"{name}: {m} {p}" for m, p in sorted(table) if (m, p) not in ROUTES]

    assert not unclassified, "classify these routes in tests/security/support.py"
    stale = sorted(f"{m} {p}" for m, p in set(ROUTES) - served)
    assert not stale, f"these classified routes no longer exist: {stale}"


def test_exactly_the_routes_under_the_exchange_prefix_are_classified_as_signed_exchange() -> None:
    # The signature is checked by middleware for every path under the prefix, and only there.
    for (method, path), kind in ROUTES.items():
        assert (kind == EXCHANGE) == path.startswith(EXCHANGE_PREFIX), f"{method} {path}: {kind}"


def test_every_exchange_route_of_every_app_refuses_an_unsigned_call_with_a_problem(
    role_apps: dict[str, FastAPI],
) -> None:
    ids = {"consent_id": "c", "request_id": "r", "name": "spending", "file": "payments.csv"}
    for name, app in role_apps.items():
        with started(app, name) as node:  # the node must hold its federation document
            for method, path in routes_of_kind(app, EXCHANGE):
                answer = node.request(method, fill(path, ids), json={})

                assert answer.status_code == 401, f"{name}: {method} {path}: {answer.status_code}"
                assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), path


def test_every_operator_route_of_every_app_refuses_a_caller_from_outside(
    role_apps: dict[str, FastAPI],
) -> None:
    ids = {"alarm_id": "1", "message_id": "1"}
    tried = 0
    for name, app in role_apps.items():
        for method, path in routes_of_kind(app, OPERATOR):
            answer = call_unstarted(app, method, fill(path, ids), client=REMOTE)
            tried += 1

            assert answer.status in (401, 403, 404), f"{name}: {method} {path}: {answer.status}"
    assert tried >= 10


# --- a person on another person's things -----------------------------------------------------


def test_a_person_reaches_none_of_another_persons_things_by_their_ids(
    fed: Federation, people: tuple[Person, Person]
) -> None:
    _, bea = people  # Ada is signed in: no person route changes who is
    routes = [r for r in routes_of_kind(fed.browser.app, PERSON_ROUTE) if "{" in r[1]]
    assert len(routes) >= 6, routes

    for method, path in routes:
        response = _send(fed, method, fill(path, bea.ids))

        assert response.status_code in (403, 404), f"{method} {path}: {response.status_code}"
        leaked = [s for s in bea.secrets if s in response.text]
        assert not leaked, f"{method} {path} shows Bea's {leaked}"
    _assert_untouched(fed, bea)


def test_the_same_routes_with_the_persons_own_ids_answer(
    fed: Federation, people: tuple[Person, Person]
) -> None:
    # The control for the test above: its refusals come from whose the ids are, not from ids
    # the routes do not understand. Only GETs: a POST would change Ada's things.
    ada, _ = people
    routes = [r for r in routes_of_kind(fed.browser.app, PERSON_ROUTE) if "{" in r[1]]

    for method, path in routes:
        if method == "GET":
            assert fed.browser.get(fill(path, ada.ids)).status_code == 200, path


def _assert_untouched(fed: Federation, bea: Person) -> None:
    with fed.charter.sessions.begin() as session:
        consent = session.get(Consent, bea.ids["consent_id"])
        request = session.get(ConsentRequest, bea.ids["request_id"])
        delegation = session.get(Delegation, bea.ids["delegation_id"])
        assert consent is not None and consent.status == "active"
        assert request is not None and request.decided_at is None
        assert delegation is not None and delegation.revoked_at is None


def test_a_persons_own_lists_show_nothing_of_another_person(
    fed: Federation, people: tuple[Person, Person]
) -> None:
    _, bea = people  # Ada is signed in: no person route changes who is
    routes = [r for r in routes_of_kind(fed.browser.app, PERSON_ROUTE) if "{" not in r[1]]

    for method, path in routes:
        if method != "GET":
            continue
        response = fed.browser.get(path)
        leaked = [s for s in bea.secrets if s in response.text]
        assert not leaked, f"GET {path} shows Bea's {leaked}"


def test_every_person_route_of_every_app_without_a_session_goes_to_sign_in_or_refuses(
    role_apps: dict[str, FastAPI],
) -> None:
    ids = {"consent_id": "c", "request_id": "r", "delegation_id": "d", "version": "2"}
    ids |= {"slug": "ask-for-a-care-assessment", "page_id": "where", "reference": "CNA-2222-2222-2"}
    tried = 0
    for name, app in role_apps.items():
        for method, path in routes_of_kind(app, PERSON_ROUTE):
            answer = call_unstarted(app, method, fill(path, ids), data={"answer": "yes"})
            tried += 1

            signs_in = answer.status in (302, 303) and "sign-in" in answer.headers["location"]
            assert signs_in or answer.status in (401, 403), f"{name}: {method} {path}"
    assert tried >= 20


# --- a register's person pages -----------------------------------------------------------------


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegisterNode]:
    """The People register in-process with two people; Bea's address changed twice."""
    tmp = tmp_path_factory.mktemp("register")
    for node in start_register(tmp / "node", f"sqlite:///{tmp / 'register.db'}"):
        with node.sessions.begin() as session:
            add_record(session, PERSON)
            add_record(session, OTHER_PERSON, {"people.address": BEA_ADDRESS})
            session.get_one(RegisterRecord, OTHER_PERSON).version = 3
        yield node


BEA_ADDRESS = {"lines": ["9 Bea Row"], "town": "Bangor", "postcode": "LL57 1ZZ"}


def test_a_register_shows_a_person_none_of_another_persons_record_or_changes(
    register: RegisterNode, role_apps: dict[str, FastAPI]
) -> None:
    register.sign_in(PERSON)
    bea = {"version": "3"}

    for method, path in routes_of_kind(role_apps["people-register"], PERSON_ROUTE):
        url = fill(path, bea)
        response = register.http.request(method, url, data={"csrf_token": "test-csrf-token"})

        assert "9 Bea Row" not in response.text and OTHER_PERSON not in response.text, path
        if "{" in path:
            assert response.status_code == 404, f"{method} {path}: {response.status_code}"


# --- members on each other's consents -------------------------------------------------------


def _is_problem(status: int, headers: Any, refused: tuple[int, ...] = (403, 404)) -> bool:
    return status in refused and headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)


def test_a_member_cannot_read_under_another_members_consent(
    fed: Federation, people: tuple[Person, Person]
) -> None:
    ada, _ = people
    answer = fed.call_holder(
        "electoral-registration",
        ELECTORAL,
        "POST",
        READ,
        {"fields": ["people.address"]},
        purpose=PURPOSE,
        consent=ada.ids["consent_id"],
    )

    assert _is_problem(answer.status, answer.headers), answer.body
    assert b"L1 1AA" not in answer.body


def test_a_member_cannot_withdraw_another_members_consent_at_the_register(
    fed: Federation, people: tuple[Person, Person]
) -> None:
    ada, _ = people
    consent_id = ada.ids["consent_id"]
    path = f"/exchange/v1/consents/{consent_id}/withdrawal"
    envelope = {"payload": {"consent_id": consent_id, "status": "withdrawn"}, "signatures": []}

    answer = fed.call_holder("liverpool-pensions", PENSIONS, "POST", path, envelope)

    assert _is_problem(answer.status, answer.headers), answer.body
    with fed.holder_sessions.begin() as session:
        assert session.get_one(HeldConsent, consent_id).status == "active"


def test_only_the_charter_may_ask_a_node_for_a_persons_log_entries(
    fed: Federation, people: tuple[Person, Person]
) -> None:
    ada, _ = people
    subject = pseudonym_for(fed.charter, "people-register", ada.person_id)

    answer = fed.call_holder(
        "liverpool-pensions", PENSIONS, "POST", "/exchange/v1/access-records", {"subject": subject}
    )

    assert _is_problem(answer.status, answer.headers), answer.body
    assert subject not in answer.body.decode()
