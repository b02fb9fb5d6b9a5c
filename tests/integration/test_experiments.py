"""Experiments through the real app, on SQLite and PostgreSQL: a person sees the same variant
each time and their journey's events carry it; the staff's page compares the variants; a
manager stops the experiment and everyone sees the winner; who may see and stop it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digitalstate.web.session import session_cookie_name

from .casework_support import (
    BUS_SLUG,
    CaseworkNode,
    fill_in_assisted,
    send_assisted,
    start_assisted,
)
from .experiments_support import (
    CONTROL_LABEL,
    EXPERIMENT,
    PAGE,
    PLAIN_LABEL,
    add_journeys,
    another_node,
    events_of,
    experiment_node,
    person_in,
)
from .journey_support import BUS, MEMBER, bus_pass_answers
from .staff_support import TAX, csrf_of

MANAGER = "sam.manager@pensions.example.org"
CASEWORKER = "jo.caseworker@pensions.example.org"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[CaseworkNode]:
    with experiment_node(tmp_path, migrated_database_url) as running:
        yield running


def name_label(node: CaseworkNode, sub: str) -> str:
    """The label the person sub sees on the name page."""
    person = node.journeys
    person.sign_in(sub)
    page = person.get(f"{BUS}/name")
    assert page.status_code == 200, page.text
    for label in (PLAIN_LABEL, CONTROL_LABEL):  # the control's label is not in the other's
        if label in page.text:
            return label
    raise AssertionError(page.text)


def start(node: CaseworkNode, sub: str) -> None:
    person = node.journeys
    person.sign_in(sub)
    person.type_answers()


def test_a_person_sees_the_same_variant_every_time(node: CaseworkNode) -> None:
    plain, control = person_in("plain"), person_in("as-now")
    start(node, plain)
    start(node, control)
    assert {name_label(node, plain) for _ in range(3)} == {PLAIN_LABEL}
    assert {name_label(node, control) for _ in range(3)} == {CONTROL_LABEL}


def test_the_journeys_events_carry_its_variant(node: CaseworkNode) -> None:
    sub = person_in("plain")
    start(node, sub)
    person = node.journeys
    for page, data in bus_pass_answers(email=False):
        assert person.answer(page, data).status_code == 303, page
    assert person.submit().status_code == 303

    events = events_of(node)
    kinds = {row.kind for row in events}
    assert {"started", "page", "completed"} <= kinds
    assert {row.variant for row in events} == {f"{EXPERIMENT}:plain"}
    assert all(row.channel == "digital" for row in events)


def test_an_assisted_journey_is_in_no_experiment(node: CaseworkNode) -> None:
    jo = node.staff(CASEWORKER)
    base = start_assisted(jo)
    assert CONTROL_LABEL in jo.get(f"{base}/name").text
    fill_in_assisted(jo, base)
    send_assisted(jo, base)
    events = events_of(node)
    assert events and {row.variant for row in events} == {None}
    assert {row.channel for row in events} == {"assisted"}


def test_the_page_shows_each_variants_figures_and_what_they_mean(node: CaseworkNode) -> None:
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    add_journeys(
        node, "as-now", started=100, completed=50, ratings={5: 10, 2: 10}, seconds=240, at=at
    )
    add_journeys(
        node, "plain", started=100, completed=60, ratings={4: 15, 1: 5}, seconds=200, at=at
    )
    jo = node.staff(CASEWORKER)

    page = jo.get(PAGE)

    assert page.status_code == 200, page.text
    text = page.text
    assert "Running" in text and "Apply for a bus pass" in text
    assert "50% (50 of 100)" in text and "60% (60 of 100)" in text
    assert "50% (10 of 20)" in text and "75% (15 of 20)" in text  # satisfied: 4 and 5
    # Wilson's interval of 50 of 100: 40% to 60%; the mean times 264.5 s and 229.5 s
    assert "40% to 60%" in text
    assert "4 min 24 s" in text and "3 min 50 s" in text
    # 50% against 60%: p = 0.155, 576 more people, shown as about 580
    assert "Not yet significant (p = 0.155). About 580 more people" in text
    assert "Significant: a difference this size is unlikely by chance (p &lt; 0.001)" in text
    assert "A manager can stop the experiment" in text and 'name="winner"' not in text


def test_a_manager_stops_the_experiment_and_everyone_sees_the_winner(
    node: CaseworkNode,
) -> None:
    control = person_in("as-now")
    start(node, control)
    assert name_label(node, control) == CONTROL_LABEL
    sam = node.staff(MANAGER, role="manager", name="Sam Manager")
    listed = sam.get("/staff/experiments")
    assert EXPERIMENT in listed.text and "Running" in listed.text

    stopped = sam.send(PAGE, PAGE + "/stop", {"winner": "plain"})

    assert stopped.status_code == 303 and stopped.headers["location"].endswith("?done=stopped")
    after = sam.get(stopped.headers["location"])
    assert "Experiment stopped: everyone now sees plain." in after.text
    assert "Stopped" in after.text and 'name="winner"' not in after.text
    assert name_label(node, control) == PLAIN_LABEL
    assert name_label(node, person_in("plain")) == PLAIN_LABEL
    # Events from now on are in no experiment.
    events_before = len(events_of(node))
    node.journeys.sign_in(person_in("as-now", start=500))
    node.journeys.type_answers()
    assert {row.variant for row in events_of(node)[events_before:]} == {None}
    logged = node.staff_entries(sam.account_id)
    assert ("staff-stopped-experiment", "", f"{BUS_SLUG} {EXPERIMENT}: plain kept") in logged

    second = sam.post(
        PAGE + "/stop", data={"csrf_token": csrf_of(sam.get("/staff")), "winner": "as-now"}
    )
    assert second.status_code == 409
    assert "This experiment has been stopped already: nothing changed" in second.text
    assert name_label(node, control) == PLAIN_LABEL


def test_a_stop_without_a_winner_says_what_to_do(node: CaseworkNode) -> None:
    sam = node.staff(MANAGER, role="manager", name="Sam Manager")
    for data in ({}, {"winner": "nonsense"}):
        answer = sam.send(PAGE, PAGE + "/stop", data)
        assert answer.status_code == 400
        assert 'href="#winner"' in answer.text and "Select the variant to keep" in answer.text
    assert "Running" in sam.get(PAGE).text


# --- who may see and stop -------------------------------------------------------------------


def test_a_caseworker_sees_the_page_but_cannot_stop(node: CaseworkNode) -> None:
    jo = node.staff(CASEWORKER)
    refused = jo.post(
        PAGE + "/stop", data={"csrf_token": csrf_of(jo.get("/staff")), "winner": "plain"}
    )
    assert refused.status_code == 403 and "This page is for a manager" in refused.text
    assert "Running" in jo.get(PAGE).text
    assert not [e for e in node.entries() if e.action == "staff-stopped-experiment"]


def test_no_one_without_a_staff_session_sees_or_stops_it(node: CaseworkNode) -> None:
    person = node.journeys
    person.sign_in(person_in("plain"))  # a person's session counts for nothing under /staff
    for path in ("/staff/experiments", PAGE):
        seen = person.get(path)
        assert seen.status_code == 303 and seen.headers["location"].startswith("/staff/sign-in")
    stop = person.post(PAGE + "/stop", data={"winner": "plain", "csrf_token": "x"})
    assert stop.status_code == 303 and stop.headers["location"].startswith("/staff/sign-in")
    assert "Running" in node.staff(CASEWORKER).get(PAGE).text


def test_an_unknown_experiment_or_service_is_not_found(node: CaseworkNode) -> None:
    jo = node.staff(CASEWORKER)
    for path in (f"/staff/experiments/{BUS_SLUG}/nope", "/staff/experiments/book-a-viewing/x"):
        assert jo.get(path).status_code == 404


def test_another_nodes_staff_cannot_see_or_stop_it(node: CaseworkNode, tmp_path: Path) -> None:
    sam = node.staff(MANAGER, role="manager", name="Sam Manager")
    stolen = sam.client.cookies.get(session_cookie_name(MEMBER, "staff"))
    assert stolen
    other_url = f"sqlite:///{tmp_path / 'tax.db'}"
    with another_node(tmp_path / "tax", other_url, TAX) as tax:
        tax.staff(MANAGER, role="manager", name="Sam Manager")  # the same email, its own account
        thief = tax.browser()
        # Sent under its own name, or renamed as the other node's: sealed under another key.
        for name in (session_cookie_name(MEMBER, "staff"), session_cookie_name(TAX, "staff")):
            thief.client.cookies.clear()
            thief.client.cookies.set(name, stolen, path="/staff")
            for path in ("/staff/experiments", PAGE):
                seen = thief.get(path)
                assert seen.status_code == 303, (name, path)
                assert seen.headers["location"].startswith("/staff/sign-in")
            stop = thief.post(PAGE + "/stop", data={"winner": "plain", "csrf_token": "x"})
            assert stop.status_code == 303 and "/staff/sign-in" in stop.headers["location"]
    assert "Running" in sam.get(PAGE).text
