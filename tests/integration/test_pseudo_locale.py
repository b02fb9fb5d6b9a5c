"""Every page's text is in the catalogue: each page, shown in the pseudo-locale, has every text
between ⟦ and ⟧ but the values each test names (names, dates, references, the federation's
own words). A string a template or a page module writes without _() fails here; docs/i18n.md
says how to add it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digitalstate.app import create_anchor_app
from digitalstate.exchange.api import offered
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.setup import init_anchor
from digitalstate.identity.service import grant_delegation
from digitalstate.web.i18n import PSEUDO
from integration.casework_support import QUEUE, CaseworkNode, casework_node
from integration.consent_support import (
    Federation,
    add_person_with_record,
    agree,
    ask,
    read_address,
    running_federation,
)
from integration.journey_support import BUS, PDF, JourneyNode, bus_pass_answers, journey_node
from integration.languages_support import assert_marked, in_language, offer
from integration.operator_support import operator_headers
from integration.registers_support import (
    NEW_ADDRESS,
    RegisterNode,
    add_consent,
    add_record,
    start_register,
)
from integration.services_support import Federation as ServicesFederation
from integration.services_support import go_to_the_charter
from integration.services_support import running_federation as services_federation
from integration.staff_support import StaffNode, start_staff_node
from support.clients import InProcessClient
from support.pages import PUNCTUATION

# The language of a page does not depend on the database: SQLite only.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CHARTER = "Charter: your account"
PEOPLE = "People register"
PENSIONS = "Liverpool: pensions"
DATE = r"\d{1,2} [A-Z][a-z]+ \d{4}"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ADDRESS = {"lines": ["1 High Street"], "town": "Swansea", "postcode": "SA1 1AA"}
# What the federation document says of its fields and purposes: its own words, not ours.
CATALOGUE_WORDS = (
    r"Home address in UK form.*",
    r"Date of birth.*",
    r"Liverpool pensions uses your address.*",
    r"Paying your State Pension",
)


@pytest.fixture(autouse=True)
def pseudo_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every node of these tests offers the pseudo-locale."""
    offer(monkeypatch, "en", "cy", PSEUDO)


@pytest.fixture
def fed(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[Federation]:
    for running in running_federation(tmp_path, migrated_database_url, more_databases):
        in_language(running.browser.client.cookies, PSEUDO)
        yield running


@SQLITE
def test_the_charters_pages_are_all_in_the_catalogue(fed: Federation) -> None:
    browser = fed.browser
    # The node's home page lists the exchange's calls as the code describes them (method, path,
    # summary) and its health checks as diagnostics: what operators read, not people's text.
    summaries = [re.escape(call["summary"].strip(PUNCTUATION)) for call in offered(browser.app)]
    checks = (
        r"Database|Federation|Log|Witness|Outbox",
        r"schema at \d+",
        r"version \d+, expires .*",
    )
    assert_marked(
        browser.get("/"),
        CHARTER,
        "charter",
        r"http://charter\.test",
        "consent test federation",
        r"\d+",
        DATE,
        r"GET|POST",
        r"exchange/v1/[\w/{}.-]+",
        *summaries,
        *checks,
    )
    assert_marked(browser.get("/sign-in"), CHARTER)
    token = browser.csrf("/sign-in")
    wrong = browser.post(
        "/sign-in", data={"email": "x@example.org", "password": "no", "csrf_token": token}
    )
    assert wrong.status_code == 400
    assert_marked(wrong, CHARTER)
    assert_marked(browser.post("/sign-out", data={}), CHARTER)  # no CSRF token: refused

    ada = add_person_with_record(fed, "ada@example.org", "Ada Lovelace", ADDRESS)
    in_language(browser.client.cookies, PSEUDO)  # signing in started a fresh browser
    sam = fed.add_person("sam@example.org", "Sam Helper")
    asked = ask(fed, ada)
    screen = browser.get(f"/consent/{asked['request_id']}")
    assert_marked(screen, CHARTER, PENSIONS, PEOPLE, *CATALOGUE_WORDS)
    token = browser.csrf(f"/consent/{asked['request_id']}")
    unanswered = browser.post(f"/consent/{asked['request_id']}", data={"csrf_token": token})
    assert_marked(unanswered, CHARTER, PENSIONS, PEOPLE, *CATALOGUE_WORDS)
    assert_marked(browser.get("/consent/no-such-request"), CHARTER)

    consent_id = agree(fed, ada)
    assert read_address(fed, consent_id).status == 200
    values = (CHARTER, PENSIONS, PEOPLE, "Ada Lovelace", "ada@example.org", DATE, *CATALOGUE_WORDS)
    assert_marked(browser.get("/my"), *values)
    assert_marked(browser.get("/my/consents"), *values)
    details = browser.get(f"/my/consents/{consent_id}")
    receipt = (
        UUID,
        r"[A-Za-z0-9_+/=-]{20,}",  # pseudonyms, the key id, the signature
        r"[0-9a-f]{64}",  # the wording's hash
        r"charter \(ed25519",  # who signed, and how
        r"\d{4}-\d\d-\d\dT[\d:.]+(Z|\+00:00)?",  # the record's own times
        r"active|UK",
        r"Paying your State Pension \(pension-administration, dpv:\w+",
        r"Home address.*|people\.[a-z_.]+(, people\.[a-z_.]+)*",
    )
    assert_marked(details, *values, *receipt)
    assert_marked(browser.get(f"/my/consents/{consent_id}/withdraw"), *values)
    activity = browser.get("/my/activity")
    # The reason an entry gives is the log's own signed text; a member's name is the federation's.
    logged = (r"\d+", "consent active and covers the fields", "Electoral registration office")
    assert_marked(activity, *values, *logged)
    filtered = browser.get("/my/activity?action=read")
    assert_marked(filtered, *values, *logged)

    token = browser.csrf("/my/helpers")
    until = datetime.now(UTC) + timedelta(days=30)
    added = browser.post(
        "/my/helpers",
        data={
            "csrf_token": token,
            "email": "sam@example.org",
            "scope": ["consent", "sign-in"],
            "expires-day": str(until.day),
            "expires-month": str(until.month),
            "expires-year": str(until.year),
        },
    )
    assert added.status_code == 303
    assert_marked(browser.get("/my/helpers"), *values, "sam@example.org")
    wrong = browser.post("/my/helpers", data={"csrf_token": token, "email": ""})
    assert_marked(wrong, *values, "sam@example.org")

    withdrawn = browser.post(
        f"/my/consents/{consent_id}/withdraw", data={"csrf_token": browser.csrf("/my")}
    )
    assert_marked(withdrawn, *values)
    assert_marked(browser.post("/sign-out", data={"csrf_token": browser.csrf("/my")}), CHARTER)

    # A helper, on the screen of someone they act for.
    with fed.charter.sessions.begin() as session:
        grant_delegation(
            session,
            person_id=ada,
            helper_email="sam@example.org",
            scope=["consent"],
            expires_at=until,
            now=datetime.now(UTC),
        )
    fed.sign_in("sam@example.org")
    in_language(browser.client.cookies, PSEUDO)
    assert sam
    helped = browser.get(f"/consent/{ask(fed, ada)['request_id']}")
    assert_marked(helped, CHARTER, PENSIONS, PEOPLE, "Ada Lovelace", *CATALOGUE_WORDS)


@pytest.fixture
def register(tmp_path: Path, migrated_database_url: str) -> Iterator[RegisterNode]:
    for node in start_register(tmp_path, migrated_database_url):
        in_language(node.http.client.cookies, PSEUDO)
        yield node


@SQLITE
def test_a_registers_pages_are_all_in_the_catalogue(register: RegisterNode) -> None:
    with register.sessions.begin() as session:
        add_record(session)
        add_consent(session)
    token = register.sign_in()
    browser = register.http
    values = (PEOPLE, "Alice", "Sample", DATE, "12 Mill Lane", "Swansea", "SA1 1AA", PENSIONS)
    assert_marked(browser.get("/my/details"), *values)
    assert_marked(browser.get("/my/details/address"), *values)
    wrong = browser.post(
        "/my/details/address", data={"csrf_token": token, "address-postcode": "no"}
    )
    assert wrong.status_code == 400
    assert_marked(wrong, *values, "no")
    changed = browser.post(
        "/my/details/address",
        data={
            "csrf_token": token,
            "address-line-1": NEW_ADDRESS["lines"][1],
            "address-town": NEW_ADDRESS["town"],
            "address-postcode": NEW_ADDRESS["postcode"],
        },
        follow_redirects=True,
    )
    assert_marked(changed, *values)
    assert_marked(browser.get("/my/details/changes/99"), PEOPLE)  # no such change

    operator = operator_headers(register.settings.data_dir)
    id_ = r"[a-z0-9-]+|\d+|[0-9a-f-]{36}"
    assert_marked(
        browser.get("/operator/outbox", headers=operator),
        PEOPLE,
        PENSIONS,
        id_,
        DATE,
        r"people\.address",
    )
    assert_marked(browser.get("/operator/log", headers=operator), PEOPLE, id_, DATE)
    assert_marked(browser.get("/operator/sign-in"), PEOPLE, "people-register")
    elsewhere = browser.from_address("192.0.2.7")  # not this machine: refused
    in_language(elsewhere.cookies, PSEUDO)
    try:
        assert_marked(browser.run(elsewhere.get("/operator/log")), PEOPLE)
    finally:
        browser.run(elsewhere.aclose())
    too_large = browser.post(
        "/my/details/address", content=b"x" * 100_000, headers={"accept": "text/html"}
    )
    assert too_large.status_code == 413
    assert_marked(too_large, PEOPLE)


@pytest.fixture
def staff(tmp_path: Path, migrated_database_url: str) -> Iterator[StaffNode]:
    yield from start_staff_node(tmp_path, migrated_database_url)


@SQLITE
def test_staff_pages_are_all_in_the_catalogue(staff: StaffNode) -> None:
    in_language(staff.http.cookies, PSEUDO)
    staff.add_staff("jo@example.org", role="caseworker")
    assert_marked(staff.get("/staff/sign-in"), PENSIONS)
    assert_marked(staff.sign_in_form(email="jo@example.org", password="wrong"), PENSIONS)
    staff.sign_in("jo@example.org")
    assert_marked(staff.get("/staff"), PENSIONS, "Jo Bloggs", "jo@example.org")


def test_the_trust_anchors_home_page_is_in_the_catalogue(tmp_path: Path) -> None:
    settings, _document = init_anchor(
        tmp_path / "anchor",
        federation="pseudo test federation",
        base_url="http://anchor.test",
        host="127.0.0.1",
        port=8100,
        catalogue=load_catalogue(),
        validity_hours=1,
        now=datetime.now(UTC),
        database_url=f"sqlite:///{tmp_path / 'anchor.db'}",
    )
    with InProcessClient(create_anchor_app(settings), "http://anchor.test") as anchor:
        in_language(anchor.client.cookies, PSEUDO)
        page = anchor.get("/")
        assert re.search(r"<h1[^>]*>pseudo test federation</h1>", page.text)
        assert_marked(page, "pseudo test federation", r"\d+", DATE)


@pytest.fixture
def services(
    tmp_path: Path, migrated_database_url: str, more_databases: Callable[[], str]
) -> Iterator[ServicesFederation]:
    for running in services_federation(tmp_path, migrated_database_url, more_databases):
        in_language(running.browser.cookies, PSEUDO)
        yield running


SERVICE_VALUES = (
    PENSIONS,
    # The service's title and description: its settings' own words.
    "Check your State Pension details",
    "See the address and date of birth we use to pay your State Pension",
    "Address",
    "Date of birth",
    r"Liverpool pensions uses your address.*",
    "1 High Street",
    "Liverpool",
    "L1 1AA",
    DATE,
)


@SQLITE
def test_a_services_pages_are_all_in_the_catalogue(services: ServicesFederation) -> None:
    browser = services.browser
    assert_marked(browser.get("/service"), *SERVICE_VALUES)
    failed_sign_in = browser.get("/auth/callback", params={"state": "forged", "code": "x"})
    assert failed_sign_in.status_code == 400
    assert_marked(failed_sign_in, *SERVICE_VALUES, "state mismatch")
    services.sign_in()
    assert_marked(browser.get("/service/details"), *SERVICE_VALUES)
    declined_id = go_to_the_charter(services)
    declined = browser.get(
        "/service/consent-return", params={"request_id": declined_id, "error": "access_denied"}
    )
    assert_marked(declined, *SERVICE_VALUES)
    request_id = go_to_the_charter(services)
    consent_id = services.agree(request_id)
    back = browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )
    assert back.status_code == 303
    assert_marked(browser.get("/service/details"), *SERVICE_VALUES)


@SQLITE
def test_the_way_back_problem_page_is_in_the_catalogue(services: ServicesFederation) -> None:
    services.sign_in()
    page = services.browser.get("/service/consent-return", params={"request_id": "unknown"})
    assert page.status_code == 400
    assert_marked(page, *SERVICE_VALUES)


# A declared service's own words (the test definitions': English only) and what was typed.
JOURNEY_VALUES = (
    PENSIONS,
    "Apply for a bus pass",
    "Apply for a free bus pass if you are 60 or over",
    "You can apply if you live in Liverpool",
    # Its questions' labels, also in lower case (a change link's hidden text).
    r"(?i)what is your (name|date of birth|address)|full name|email address|email|post",
    r"(?i)how should we contact you|upload proof of your address",
    r"(?i)is there anything else we should know",
    "We will post your bus pass within 10 working days",
    "Ada Lovelace|22 Dale Street|Liverpool|L2 2AB|ada@example.org|2 April 1950",
    "Not answered",  # the definition's language's word for an optional answer left blank
    r"BUS-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]",
    DATE,
)


@pytest.fixture
def journeys(tmp_path: Path, migrated_database_url: str) -> Iterator[JourneyNode]:
    with journey_node(tmp_path, migrated_database_url) as node:
        in_language(node.node.http.client.cookies, PSEUDO)
        yield node


@SQLITE
def test_a_declared_services_pages_are_all_in_the_catalogue(journeys: JourneyNode) -> None:
    assert_marked(journeys.get(BUS), *JOURNEY_VALUES)
    journeys.sign_in("ada-pseudonym-at-pensions")
    in_language(journeys.node.http.client.cookies, PSEUDO)
    assert_marked(journeys.get(f"{BUS}/begin"), *JOURNEY_VALUES, *CATALOGUE_WORDS)
    token = journeys.csrf(f"{BUS}/begin")
    journeys.post(f"{BUS}/consent", data={"csrf_token": token, "choice": "type"})
    wrong = journeys.answer("name", {"full-name": ""})
    assert wrong.status_code == 400
    assert_marked(wrong, *JOURNEY_VALUES)
    for page, data in bus_pass_answers()[:3]:  # each page with errors, then answered
        assert_marked(journeys.answer(page, {"date-of-birth-day": "40"}), *JOURNEY_VALUES)
        assert journeys.answer(page, data).status_code == 303
    journeys.fill_in()
    assert_marked(journeys.get(f"{BUS}/leave"), *JOURNEY_VALUES)
    assert_marked(journeys.get(f"{BUS}/check-answers"), *JOURNEY_VALUES)
    sent = journeys.submit()
    assert_marked(journeys.get(sent.headers["location"]), *JOURNEY_VALUES)
    reference = sent.headers["location"].rsplit("/", 1)[1]
    assert_marked(journeys.get("/applications"), *JOURNEY_VALUES)
    assert_marked(journeys.get(f"/applications/{reference}"), *JOURNEY_VALUES)
    assert_marked(journeys.get(f"/applications/{reference}/withdraw"), *JOURNEY_VALUES)
    assert_marked(journeys.get("/applications/BUS-0000-0000-0"), *JOURNEY_VALUES)
    # The performance pages: numbers, months (English in the pseudo-text), the services.
    figures = (*JOURNEY_VALUES, "Book a viewing", "When can you come?", r"[\d.,:%]+")
    months = "January|February|March|April|May|June|July|August|September|October|November"
    figures += (rf"({months}|December) \d{{4}}", r"[A-Z][a-z]{2} \d{2}")
    for path in ("/performance", "/performance/apply-for-a-bus-pass"):
        assert_marked(journeys.get(path), *figures)


@pytest.fixture
def casework(tmp_path: Path, migrated_database_url: str) -> Iterator[CaseworkNode]:
    with casework_node(tmp_path, migrated_database_url) as node:
        yield node


@SQLITE
def test_the_staffs_queue_and_case_pages_are_all_in_the_catalogue(casework: CaseworkNode) -> None:
    reference = casework.apply("ada-pseudonym-at-pensions", proof=("proof.pdf", PDF, "x"))
    jo = casework.staff("jo@pensions.example.org")
    in_language(jo.client.cookies, PSEUDO)
    staff = (
        *JOURNEY_VALUES,
        "Book a viewing",
        "Jo Bloggs",
        r"\d+",
        "proof.pdf|application/pdf, \\d+KB",
        "people-register|consent-of-[a-z]+",
    )
    assert_marked(jo.get(QUEUE), *staff)
    filtered = jo.get(QUEUE, params={"reference": "no!", "from-day": "40", "status": "approved"})
    assert filtered.status_code == 400
    assert_marked(filtered, *staff, "no!", "40")
    case = f"{QUEUE}/{reference}"
    assert_marked(jo.get(case), *staff)
    assert_marked(jo.send(case, f"{case}/decision", {"decision": ""}), *staff)
    noted = jo.send(case, f"{case}/notes", {"note": "Rang Ada."})
    assert_marked(jo.get(noted.headers["location"]), *staff, "Rang Ada")
    assert_marked(jo.get("/staff/assisted"), *staff, "Book a time to view your records")
