"""Apply for your State Pension, the demo's declared service, on a pensions node in-process
(SQLite and PostgreSQL): too early is stopped with the date one can apply from; a claim in
time waits for a caseworker, whose approval (services/applications.decide) writes the award
to the pensions register in the decision's transaction, and whose refusal writes nothing.
Another person can neither see nor withdraw the claim."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.pensions.domain import claim_window, long_date
from digitalstate.registers.models import RegisterRecord
from digitalstate.services.applications import decide
from digitalstate.services.definitions import ServiceDefinition, read_definition
from digitalstate.services.handlers import Decision
from digitalstate.services.models import Application
from integration.journey_support import ADDRESS_FORM, JourneyNode, date_form, journey_node

PENSION = "/services/apply-for-state-pension"
ADA, BEA = "ada-pseudonym-at-pensions", "bea-pseudonym-at-pensions"
FILE = DEMO_SERVICES / "apply-for-state-pension.toml"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[JourneyNode]:
    with journey_node(tmp_path, migrated_database_url, {"pension.toml": FILE.read_text()}) as run:
        yield run


@pytest.fixture
def definition() -> ServiceDefinition:
    return read_definition(FILE)


def claim(node: JourneyNode, born: date) -> dict[str, Any]:
    """Sign in as Ada, type the answers up to the date of birth: where it sends her."""
    node.sign_in(ADA)
    node.type_answers(PENSION, "date-of-birth")
    answered = node.answer(
        "date-of-birth", date_form("date-of-birth", born.day, born.month, born.year), base=PENSION
    )
    return {"status": answered.status_code, "location": answered.headers.get("location", "")}


def finish(node: JourneyNode) -> str:
    """Answer the pages after the date of birth and send the claim: its reference."""
    pages = [
        ("address", ADDRESS_FORM),
        ("national-insurance", {"national-insurance-number": "jg 10 37 26 a"}),
        (
            "bank",
            {
                "bank-details-name": "Ada Lovelace",
                "bank-details-sort-code": "30 94 95",
                "bank-details-account-number": "00733445",
            },
        ),
        ("phone", {"phone": ""}),
    ]
    for page, data in pages:
        answered = node.answer(page, data, base=PENSION)
        assert answered.status_code == 303, (page, answered.text)
    sent = node.submit(PENSION)
    assert sent.status_code == 303
    return str(sent.headers["location"]).rsplit("/", 1)[1]


def record_of(node: JourneyNode, subject: str) -> dict[str, Any] | None:
    with node.node.runtime.sessions.begin() as session:
        row = session.get(RegisterRecord, subject)
        return None if row is None else dict(json.loads(row.data))


def decide_claim(
    node: JourneyNode, definition: ServiceDefinition, reference: str, decision: Decision
) -> str:
    with node.node.runtime.sessions.begin() as session:
        return decide(session, definition.slug, reference, decision, definition, datetime.now(UTC))


def test_someone_more_than_4_months_before_state_pension_age_is_stopped_with_the_date(
    node: JourneyNode,
) -> None:
    born = date(1990, 7, 31)
    went = claim(node, born)
    assert went == {"status": 303, "location": f"{PENSION}/not-eligible"}
    page = node.get(f"{PENSION}/not-eligible")
    window = claim_window(born)
    assert window.pension_date is not None and window.opens is not None
    assert f"You reach State Pension age on {long_date(window.pension_date)}" in page.text
    assert f"You can apply from {long_date(window.opens)}" in page.text
    assert f"{PENSION}/date-of-birth?return=check" in page.text
    # Nothing can be checked or sent.
    assert node.get(f"{PENSION}/check-answers").headers["location"] == f"{PENSION}/not-eligible"
    with node.node.runtime.sessions.begin() as session:
        assert session.scalars(select(Application)).first() is None


def test_an_approved_claim_puts_the_award_in_the_pensions_register(
    node: JourneyNode, definition: ServiceDefinition
) -> None:
    went = claim(node, date(1955, 1, 1))
    assert went["location"] == f"{PENSION}/address"
    reference = finish(node)
    assert reference.startswith("SP-")
    assert node.get(f"/applications/{reference}").status_code == 200
    assert record_of(node, ADA) is None  # nothing until a caseworker decides
    approve = Decision("approved", None, "caseworker")
    assert decide_claim(node, definition, reference, approve) == "decided"
    assert record_of(node, ADA) == {
        "pensions.state_pension_status": "Receiving State Pension",
        "pensions.bank_details": {"sort_code": "30-94-95", "account_number": "00733445"},
    }
    page = node.get(f"/applications/{reference}")
    assert "Approved" in page.text and "Receiving State Pension (pensions register)" in page.text


def test_a_refused_claim_writes_nothing_to_the_register(
    node: JourneyNode, definition: ServiceDefinition
) -> None:
    claim(node, date(1955, 1, 1))
    reference = finish(node)
    refuse = Decision("refused", "We have no record of your contributions", "caseworker")
    assert decide_claim(node, definition, reference, refuse) == "decided"
    assert record_of(node, ADA) is None
    assert "We have no record of your contributions" in node.get(f"/applications/{reference}").text


def test_another_person_cannot_see_or_withdraw_the_claim(node: JourneyNode) -> None:
    claim(node, date(1955, 1, 1))
    reference = finish(node)
    node.sign_in(BEA)
    assert node.get(f"/applications/{reference}").status_code == 404
    assert node.get(f"{PENSION}/confirmation/{reference}").status_code == 404
    token = node.csrf(f"{PENSION}/begin")
    gone = node.post(f"/applications/{reference}/withdraw", data={"csrf_token": token})
    assert gone.status_code == 404
    with node.node.runtime.sessions.begin() as session:
        assert session.scalars(select(Application.status)).one() == "submitted"
