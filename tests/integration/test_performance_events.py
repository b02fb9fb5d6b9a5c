"""What a declared service's journey records for the node's performance figures, through the
real app on SQLite and PostgreSQL: started, each page viewed, answer errors, and the end points
(completed, refused as not eligible, left), on the person's pages and on staff's assisted
digital pages (services/measures.py, docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from digitalstate.performance.domain import ServiceEvent
from digitalstate.performance.models import ServiceEventRow
from digitalstate.performance.service import journey_events
from digitalstate.services.models import Application, ApplicationFile, ServiceDraft
from integration.casework_support import (
    ASSISTED,
    CaseworkNode,
    casework_node,
    fill_in_assisted,
    send_assisted,
    start_assisted,
)
from integration.journey_support import (
    BUS,
    PDF,
    JourneyNode,
    bus_pass_answers,
    date_form,
    journey_node,
)

ADA, BEA = "ada-pseudonym-at-pensions", "bea-pseudonym-at-pensions"
SLUG = "apply-for-a-bus-pass"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[JourneyNode]:
    with journey_node(tmp_path, migrated_database_url) as running:
        yield running


def events(node: JourneyNode | CaseworkNode) -> list[ServiceEvent]:
    """Every event the node recorded, oldest first, by journey."""
    runtime = node.runtime if isinstance(node, CaseworkNode) else node.node.runtime
    with runtime.sessions.begin() as session:
        journeys = session.scalars(
            select(ServiceEventRow.journey).group_by(ServiceEventRow.journey)
        ).all()
        assert None not in journeys, "every event of these journeys belongs to one"
        found = [e for j in journeys if j is not None for e in journey_events(session, j)]
    return sorted(found, key=lambda e: e.at)


def kinds(found: list[ServiceEvent]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.page) for e in found]


def draft_id(node: JourneyNode, subject: str) -> str | None:
    with node.node.runtime.sessions.begin() as session:
        return session.scalar(select(ServiceDraft.id).where(ServiceDraft.subject == subject))


def test_a_journey_records_its_start_pages_errors_and_completion(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()
    journey = draft_id(node, ADA)
    assert journey is not None
    assert node.get(f"{BUS}/name").status_code == 200
    assert node.answer("name", {"full-name": ""}).status_code == 400
    node.fill_in()
    assert node.submit().status_code == 303

    found = events(node)
    assert {e.journey for e in found} == {journey}  # the draft's id, no person's
    assert {e.service for e in found} == {SLUG} and {e.channel for e in found} == {"digital"}
    # Each page is viewed by the test's helpers before it is answered (answer() reads its
    # CSRF token): one page event per view.
    assert kinds(found)[:4] == [
        ("started", None),
        ("page", "name"),
        ("page", "name"),
        ("answer_error", "name"),
    ]
    shown = [e.page for e in found if e.kind == "page"][2:]
    assert shown == [page for page, _ in bus_pass_answers()]
    completed = found[-1]
    assert completed.kind == "completed" and completed.page is None
    assert completed.duration_ms is not None
    assert completed.duration_ms == round((completed.at - found[0].at).total_seconds() * 1000)
    assert [e for e in found if e.duration_ms is not None] == [completed]


def test_an_answer_that_makes_the_person_not_eligible_records_a_refusal_once(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.answer("name", {"full-name": "Young Person"})
    stopped = node.answer("date-of-birth", date_form("date-of-birth", 1, 1, 2000))
    assert stopped.headers["location"] == f"{BUS}/not-eligible"
    assert node.get(f"{BUS}/not-eligible").status_code == 200
    assert node.get(f"{BUS}/not-eligible").status_code == 200  # seen again: no new refusal
    refused = [e for e in events(node) if e.kind == "refused"]
    assert [(e.page, e.channel) for e in refused] == [("date-of-birth", "digital")]
    assert refused[0].duration_ms is not None and refused[0].duration_ms >= 0


def test_leaving_records_the_last_page_once_and_keeps_the_answers_until_deleted(
    node: JourneyNode,
) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.answer("name", {"full-name": "Ada Lovelace"})
    node.answer("date-of-birth", date_form("date-of-birth", 2, 4, 1950))
    question = node.get(f"{BUS}/address")
    assert f'href="{BUS}/leave"' in question.text and "Leave this service" in question.text

    left = node.get(f"{BUS}/leave")
    assert left.status_code == 200 and "You have left this service" in left.text
    assert "The answers given so far are saved" in left.text
    assert f'action="{BUS}/leave"' in left.text
    assert node.get(f"{BUS}/leave").status_code == 200  # shown again: left once
    leaving = [e for e in events(node) if e.kind == "left"]
    assert [(e.page, e.channel) for e in leaving] == [("address", "digital")]
    assert leaving[0].duration_ms is not None
    assert draft_id(node, ADA) is not None  # kept: the person may come back

    # Coming back and leaving again is a second time left; deleting the answers then is not.
    assert node.get(f"{BUS}/address").status_code == 200
    journey = draft_id(node, ADA)
    deleted = node.post(f"{BUS}/leave", data={"csrf_token": node.csrf(f"{BUS}/leave")})
    assert deleted.status_code == 200 and "have been deleted" in deleted.text
    assert draft_id(node, ADA) is None
    assert [e.kind for e in events(node) if e.journey == journey].count("left") == 2
    assert node.get(f"{BUS}/leave").status_code == 200  # nothing kept: nothing recorded
    assert [e.kind for e in events(node)].count("left") == 2


def test_deleting_the_answers_deletes_the_files_kept_with_them(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    uploaded = node.answer("proof", {}, files={"proof": ("bill.pdf", PDF, "application/pdf")})
    assert uploaded.status_code == 303
    with node.node.runtime.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(ApplicationFile)) == 1
    node.post(f"{BUS}/leave", data={"csrf_token": node.csrf(f"{BUS}/check-answers")})
    with node.node.runtime.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(ApplicationFile)) == 0
        assert session.scalar(select(func.count()).select_from(ServiceDraft)) == 0


def test_leaving_touches_only_the_signed_in_persons_draft(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.answer("name", {"full-name": "Ada Lovelace"})
    ada = draft_id(node, ADA)
    node.sign_in(BEA)
    node.type_answers()
    bea = draft_id(node, BEA)
    node.post(f"{BUS}/leave", data={"csrf_token": node.csrf(f"{BUS}/leave")})
    assert draft_id(node, ADA) == ada and draft_id(node, BEA) is None
    assert [e.journey for e in events(node) if e.kind == "left"] == [bea]
    node.node.http.client.cookies.clear()
    assert node.get(f"{BUS}/leave").headers["location"].startswith("/auth/sign-in")
    assert draft_id(node, ADA) == ada


def test_leaving_without_a_csrf_token_deletes_nothing(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()
    refused = node.post(f"{BUS}/leave", data={"csrf_token": "not-the-token"})
    assert refused.status_code == 403
    assert draft_id(node, ADA) is not None


def test_an_application_and_its_completed_event_are_made_together(node: JourneyNode) -> None:
    node.sign_in(ADA)
    node.type_answers()
    node.fill_in()
    form = {"csrf_token": node.csrf(f"{BUS}/check-answers"), "submission_token": node.token()}
    assert node.post(f"{BUS}/submit", data=form).status_code == 303
    assert node.post(f"{BUS}/submit", data=form).status_code == 303  # a double click
    with node.node.runtime.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 1
    assert [e.kind for e in events(node)].count("completed") == 1


@pytest.fixture
def casework(tmp_path: Path, migrated_database_url: str) -> Iterator[CaseworkNode]:
    with casework_node(tmp_path, migrated_database_url) as running:
        yield running


def test_an_assisted_journey_records_its_events_as_assisted(casework: CaseworkNode) -> None:
    jo = casework.staff("jo@pensions.example.org")
    base = start_assisted(jo)
    fill_in_assisted(jo, base)
    send_assisted(jo, base)
    other = start_assisted(jo)
    assert jo.get(f"{other}/name").status_code == 200
    assert jo.get(f"{other}/leave").status_code == 200

    found = events(casework)
    assert {e.channel for e in found} == {"assisted"}
    assert [e.kind for e in found].count("started") == 2
    assert [(e.kind, e.page) for e in found if e.kind in ("completed", "left")] == [
        ("completed", None),
        ("left", "name"),
    ]
    gone = jo.send(f"{other}/leave", f"{other}/leave")
    assert gone.status_code == 200 and "have been deleted" in gone.text
    assert jo.get(f"{other}/leave").status_code == 404  # no draft, no application: not theirs
    sam = casework.staff("sam@pensions.example.org")
    assert sam.get(f"{base}/leave").status_code == 404  # another member of staff's case
    assert f'href="{ASSISTED}"' in gone.text
