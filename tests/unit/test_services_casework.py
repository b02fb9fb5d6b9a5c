"""The staff's casework rules as plain computation: the queue's filters, who may decide an
assisted application, where an answer came from in words, and the email of a decision."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digitalstate.services.applications import ApplicationView
from digitalstate.services.casework import decision_email, email_answer
from digitalstate.services.definitions import ServiceDefinition, read_definition
from digitalstate.services.domain import decision_barred
from digitalstate.services.handlers import Decision
from digitalstate.services.presenter import case_rows, moment_text, source_lines, staff_by
from digitalstate.services.queue import QueueFilters, last_page, parse_filters
from integration.journey_support import write_definitions

SERVICES = {"apply-for-a-bus-pass", "book-a-viewing"}
STATUSES = {"submitted", "in-review", "approved", "refused", "withdrawn"}
CHANNELS = {"digital", "helper", "assisted"}


def parse(**query: str | list[str]) -> tuple[QueueFilters, dict[str, str]]:
    values = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    parsed = parse_filters(values, services=SERVICES, statuses=STATUSES, channels=CHANNELS)
    return parsed.filters, parsed.problems


def test_no_filters_is_everything_on_the_first_page() -> None:
    filters, problems = parse()
    assert filters == QueueFilters() and not filters.filtered and problems == {}
    assert filters.query() == ""


def test_the_filters_read_back_as_the_query_that_shows_them() -> None:
    filters, problems = parse(
        service="book-a-viewing",
        status=["in-review", "nonsense", "in-review", "approved"],
        channel="assisted",
        reference=" bus-7kd4 ",
        page="3",
        **typed("from", "2", "03", "2026"),
    )
    assert problems == {}
    assert filters == QueueFilters(
        service="book-a-viewing",
        statuses=("in-review", "approved"),
        channel="assisted",
        sent_from=date(2026, 3, 2),
        reference="BUS-7KD4",
        page=3,
    )
    assert filters.query() == (
        "?service=book-a-viewing&status=in-review&status=approved&channel=assisted"
        "&from-day=2&from-month=3&from-year=2026&reference=BUS-7KD4&page=3"
    )
    assert filters.only(statuses=("refused",)).query().endswith("reference=BUS-7KD4")
    assert filters.on_page(4).page == 4


def typed(name: str, day: str, month: str, year: str) -> dict[str, str]:
    """What was typed in the date input name."""
    return {f"{name}-day": day, f"{name}-month": month, f"{name}-year": year}


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (typed("from", "30", "2", "2026"), "Sent from must be a real date"),
        (typed("from", "1", "", "2026"), "Sent from must include a month"),
        (typed("from", "1", "1", "1999"), "in 2000 or later"),
        (typed("to", "1", "1", "20266"), "Sent to must be a real date"),
        (typed("from", "\u0661", "1", "2026"), "Sent from must be a real date"),  # Arabic-Indic 1
    ],
)
def test_a_date_that_is_not_one_is_a_problem_of_its_input(
    query: dict[str, str], problem: str
) -> None:
    filters, problems = parse(**query)
    [(anchor, message)] = problems.items()
    assert anchor.endswith("-day") and problem in message
    assert filters.sent_from is None and filters.sent_to is None


def test_sent_to_before_sent_from_is_a_problem_and_only_from_applies() -> None:
    filters, problems = parse(**typed("from", "5", "3", "2026"), **typed("to", "4", "3", "2026"))
    assert problems == {"to-day": "Sent to must be the same as or after sent from"}
    assert filters.sent_from == date(2026, 3, 5) and filters.sent_to is None


def test_a_reference_search_and_a_page_are_bounded() -> None:
    assert parse(reference="A" * 21)[1] == {
        "reference": "Reference number must be 20 characters or fewer"
    }
    assert "only include letters" in parse(reference="BUS%")[1]["reference"]
    assert parse(page="0")[0].page == 1
    assert parse(page="²")[0].page == 1
    assert parse(page="9" * 99)[0].page == 10_000
    assert parse(service="x" * 10_000)[0].service == ""
    assert (last_page(0), last_page(25), last_page(26)) == (1, 1, 2)


def test_an_assisted_application_is_decided_by_a_manager_who_did_not_fill_it_in() -> None:
    assert decision_barred("caseworker", "jo", "digital", None) is None
    assert decision_barred("caseworker", "jo", "helper", "a-helper") is None
    assert decision_barred("caseworker", "jo", "assisted", "sam") == "role"
    assert decision_barred("manager", "sam", "assisted", "sam") == "own"
    assert decision_barred("manager", "alex", "assisted", "sam") is None


@pytest.fixture
def bus_pass(tmp_path: Path) -> ServiceDefinition:
    return read_definition(Path(write_definitions(tmp_path)[0]))


def test_each_answer_says_where_it_came_from(bus_pass: ServiceDefinition) -> None:
    source = {
        "register": "people-register",
        "field": "people.date_of_birth",
        "consent_id": "c-1",
        "read_at": "2026-11-26T09:05:00+00:00",
        "version": 3,
    }
    questions = [q for _, q in bus_pass.questions()]
    answers = {"full-name": "Ada Lovelace", "date-of-birth": "1950-04-02"}
    rows = case_rows(
        questions,
        answers,
        {"full-name": "entered", "date-of-birth": source},
        {"people-register": "People register"},
        "helper",
    )
    assert rows == [
        {"label": "Full name", "lines": ["Ada Lovelace"], "source": ["Typed in by their helper"]},
        {
            "label": "What is your date of birth?",
            "lines": ["2 April 1950"],
            "source": [
                "From People register: Date of birth",
                "With the person's consent c-1",
                "Read 26 November 2026 at 09:05 UTC, version 3",
            ],
        },
    ]
    assert source_lines("entered", {}, "assisted") == ["Typed in by staff, as the person told them"]
    assert moment_text("not a time") == "not a time"
    assert [staff_by(b) for b in ("person", "manager", "action:record")] == [
        "The person",
        "Manager",
        "The service (record)",
    ]


def test_a_decision_email_says_the_outcome_the_reason_and_where_to_see_it(
    bus_pass: ServiceDefinition,
) -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    application = ApplicationView(
        reference="BUS-7KD4-MX2Q-P",
        slug=bus_pass.slug,
        channel="assisted",
        acting_by="sam",
        answers={"email": "ada@example.org"},
        sources={},
        language="en",
        submitted_at=at,
        status="approved",
        updated_at=at,
    )
    assert email_answer(bus_pass, application.answers) == "ada@example.org"
    assert email_answer(bus_pass, {"contact": "post"}) is None

    subject, body = decision_email(
        bus_pass,
        application,
        Decision("approved", None, "manager", choice="2026-05-04T14:00"),
        node_name="Liverpool: pensions",
        base_url="https://pensions.example.org",
    )

    assert subject == "Apply for a bus pass: your application BUS-7KD4-MX2Q-P was approved"
    assert "Confirmed: Monday 4 May 2026, 2pm." in body
    assert "See your application" not in body  # an assisted one is in no account to see
    assert body.endswith("contact Liverpool: pensions and give your reference number.\n")
