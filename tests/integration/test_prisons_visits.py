"""Book a prison visit at a node with [prisons], on SQLite and PostgreSQL: the visitor's
journey with the demo's definition, the prisoner checked against the prisons' register, the
group's limits, slots from real availability, staff confirming one time (a place taken, never
past capacity, even when two confirm the last place at once) or refusing, the visitor
cancelling, and the emails each step queues.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.prisons.domain import slot_day
from digitalstate.prisons.models import VisitBooking, VisitSlot
from digitalstate.prisons.service import SLOT_FULL
from digitalstate.services.applications import decide
from digitalstate.services.display import display_slot
from digitalstate.services.handlers import Decision, DecisionRefusedError
from digitalstate.services.models import Application, ApplicationEvent, ServiceDraft
from integration.journey_support import JourneyNode
from integration.prisons_support import (
    PRISONER,
    REFERENCE,
    VISIT,
    VISITOR_EMAIL,
    add_local_slot,
    answer_all,
    definition,
    emails,
    offered,
    prisons_node,
    slot_of,
    stored_request,
    visit_pages,
    window,
)

ADA, BEA, CAL = "ada-pseudonym-at-prisons", "bea-pseudonym-at-prisons", "cal-pseudonym"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[JourneyNode]:
    with prisons_node(tmp_path, migrated_database_url) as running:
        yield running


def sessions_of(node: JourneyNode) -> sessionmaker[Session]:
    return node.node.runtime.sessions


def status_of(node: JourneyNode, reference: str) -> str:
    with sessions_of(node).begin() as session:
        return session.scalars(
            select(Application.status).where(Application.reference == reference)
        ).one()


def run_decide(node: JourneyNode, reference: str, decision: Decision) -> str:
    with sessions_of(node).begin() as session:
        return decide(
            session, "book-a-prison-visit", reference, decision, definition(), datetime.now(UTC)
        )


def approve(choice: str | None) -> Decision:
    return Decision("approved", None, "caseworker", choice=choice)


def first_offered(node: JourneyNode, count: int) -> list[str]:
    """Sign in as Ada, answer up to the times page, and the first count times offered."""
    node.sign_in(ADA)
    pages = visit_pages([])
    answer_all(node, pages[:5])
    return offered(node)[:count]


def test_a_visitor_books_staff_confirm_one_time_and_the_visitor_cancels_it(
    node: JourneyNode,
) -> None:
    sessions = sessions_of(node)
    node.sign_in(ADA)
    pages = visit_pages([], [("Sam Lovelace", date(2015, 6, 1))])
    answer_all(node, pages[:6])  # up to the times page
    times = offered(node)[:2]
    assert len(times) == 2
    for page, data in visit_pages(times, [("Sam Lovelace", date(2015, 6, 1))])[6:]:
        assert node.answer(page, data, base=VISIT).status_code == 303
    check = node.get(f"{VISIT}/check-answers")
    assert check.status_code == 200
    assert display_slot(times[0]) in check.text and display_slot(times[1]) in check.text
    assert "to 3:30pm" in check.text and "Sam Lovelace" in check.text

    sent = node.submit(VISIT)
    assert sent.status_code == 303, sent.text
    reference = sent.headers["location"].rsplit("/", 1)[1]
    assert REFERENCE.fullmatch(reference)
    confirmation = node.get(sent.headers["location"])
    assert (
        reference in confirmation.text and "The prison will check your request" in confirmation.text
    )
    assert status_of(node, reference) == "submitted"
    with sessions.begin() as session:  # nothing is held before staff confirm
        assert session.scalar(select(func.count()).select_from(VisitBooking)) == 0
    received = emails(sessions)[f"application:{reference}:received"]
    assert received[0] == [VISITOR_EMAIL] and reference in received[1]
    assert "John Smith at HMP Cardiff" in received[2] and "to 3:30pm" in received[2]

    # Staff confirm the second time asked for: a place taken in that slot.
    before = slot_of(sessions, times[1]).booked
    with pytest.raises(DecisionRefusedError, match="Choose one of the times"):
        run_decide(node, reference, approve(add_local_slot(sessions, window().first, 11, 3)))
    with pytest.raises(DecisionRefusedError, match="Choose one of the times"):
        run_decide(node, reference, approve(None))
    assert run_decide(node, reference, approve(times[1])) == "decided"
    assert slot_of(sessions, times[1]).booked == before + 1
    with sessions.begin() as session:
        booking = session.scalars(select(VisitBooking)).one()
        assert (booking.application_reference, booking.status, booking.visitors) == (
            reference,
            "confirmed",
            2,
        )
        note = session.scalars(
            select(ApplicationEvent.reason).where(ApplicationEvent.status == "approved")
        ).one()
    assert note is not None and note.startswith("Visit booked: ") and "HMP Cardiff" in note
    confirmed = emails(sessions)[f"application:{reference}:confirmed"]
    assert confirmed[1].startswith("Visit confirmed: ") and "2 visitors" in confirmed[2]

    # Someone else cannot see it or cancel it.
    node.sign_in(BEA)
    assert node.get(f"/applications/{reference}").status_code == 404
    assert node.get(f"/applications/{reference}/withdraw").status_code == 404
    token = node.csrf(f"{VISIT}/begin")  # Bea's own session's token
    refused = node.post(f"/applications/{reference}/withdraw", data={"csrf_token": token})
    assert refused.status_code == 404
    assert status_of(node, reference) == "approved"

    # The visitor cancels it: the place is free again, and they are told.
    node.sign_in(ADA)
    shown = node.get(f"/applications/{reference}")
    assert "Cancel this visit" in shown.text and "Visit booked: " in shown.text
    confirm = node.get(f"/applications/{reference}/withdraw")
    assert "Are you sure you want to cancel this visit?" in confirm.text
    token = node.csrf(f"/applications/{reference}/withdraw")
    cancelled = node.post(f"/applications/{reference}/withdraw", data={"csrf_token": token})
    assert cancelled.status_code == 303
    assert status_of(node, reference) == "withdrawn"
    assert slot_of(sessions, times[1]).booked == before
    with sessions.begin() as session:
        assert session.scalars(select(VisitBooking.status)).one() == "cancelled"
    after = node.get(f"/applications/{reference}")
    assert "Cancel this visit" not in after.text and "the place is free again" in after.text
    told = emails(sessions)[f"application:{reference}:cancelled"]
    assert told[1] == f"Visit cancelled: {reference}" and "HMP Cardiff on " in told[2]


def test_a_prisoner_who_is_not_in_the_register_is_refused_on_the_prisoner_page(
    node: JourneyNode,
) -> None:
    sessions = sessions_of(node)
    [time] = first_offered(node, 1)
    wrong = PRISONER | {"prisoner-date-of-birth-day": "13"}
    for page, data in visit_pages([time], prisoner=wrong)[5:]:
        assert node.answer(page, data, base=VISIT).status_code == 303
    node.answer("prisoner", wrong, base=VISIT, query="?return=check")

    sent = node.submit(VISIT)
    assert sent.status_code == 400
    assert (
        'href="#prisoner-number">The prisoner&#39;s details do not match anyone at HMP Cardiff'
        in sent.text
    )
    assert 'id="prisoner-number-error"' in sent.text
    assert f'action="{VISIT}/prisoner?return=check"' in sent.text
    assert 'value="13"' in sent.text  # what the visitor typed is shown again
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0
        assert session.scalar(select(func.count()).select_from(ServiceDraft)) == 1
    assert emails(sessions) == {}

    badly = node.answer(
        "prisoner", PRISONER | {"prisoner-number": "1234"}, base=VISIT, query="?return=check"
    )
    assert badly.status_code == 303
    assert "in the correct format, like A1234BC" in node.submit(VISIT).text

    # Put right: the request goes.
    node.answer("prisoner", PRISONER, base=VISIT, query="?return=check")
    assert REFERENCE.search(node.submit(VISIT).headers["location"])


def test_the_group_is_at_most_five_others_three_adults_and_three_children(
    node: JourneyNode,
) -> None:
    [time] = first_offered(node, 1)
    six = node.answer("other-visitors", {"other-visitors": "6"}, base=VISIT)
    assert six.status_code == 400
    assert "The number of other visitors must be between 0 and 5" in six.text
    visit = slot_day(time)
    assert visit is not None
    adult = visit.replace(year=visit.year - 30)
    turns_18 = visit.replace(year=visit.year - 18)  # 18 on the day of the visit: an adult
    child = visit.replace(year=visit.year - 10)
    three_adults = [("Adult One", adult), ("Child One", child), ("Adult Two", turns_18)]
    three_adults.append(("Adult Three", adult))
    for page, data in visit_pages([time], three_adults)[4:]:
        assert node.answer(page, data, base=VISIT).status_code == 303, page
    sent = node.submit(VISIT)
    assert sent.status_code == 400
    assert (
        'href="#visitor-4-date-of-birth-day">Up to 3 adults can visit at a time, including you: '
        "Adult Three would be the fourth adult (18 or over)" in sent.text
    )
    four_children = [(f"Child {n}", child) for n in range(1, 5)]
    for page, data in visit_pages([time], four_children)[4:]:
        assert node.answer(page, data, base=VISIT, query="?return=check").status_code == 303
    sent = node.submit(VISIT)
    assert "Child 4 would be the fourth child (under 18)" in sent.text
    assert f'action="{VISIT}/visitor-4?return=check"' in sent.text
    node.answer("other-visitors", {"other-visitors": "3"}, base=VISIT, query="?return=check")
    assert node.submit(VISIT).status_code == 303


def test_only_the_prisons_slots_with_a_place_left_in_the_booking_window_are_offered(
    node: JourneyNode,
) -> None:
    sessions = sessions_of(node)
    span = window()
    late = add_local_slot(sessions, span.last + timedelta(days=1), 11, capacity=5)
    elsewhere = add_local_slot(sessions, span.first, 11, capacity=5, prison="swansea")
    full = add_local_slot(sessions, span.first, 12, capacity=2)
    with sessions.begin() as session:
        session.execute(
            update(VisitSlot).where(VisitSlot.id == slot_of(sessions, full).id).values(booked=2)
        )
        seeded = session.scalars(
            select(VisitSlot).where(VisitSlot.prison_id == "cardiff").order_by(VisitSlot.starts_at)
        ).all()
    before = [
        s for s in seeded if s.starts_at.date() < span.first and s.id != slot_of(sessions, full).id
    ]
    assert before, "the demo seeds a slot before the window"

    node.sign_in(ADA)
    answer_all(node, visit_pages([])[:5])
    times = offered(node)
    days = {slot_day(value) for value in times}
    assert times and all(day is not None and day in span for day in days)
    assert late not in times and elsewhere not in times and full not in times
    assert not {s.id for s in before} & {int(v.rsplit("#", 1)[1]) for v in times}
    page = node.get(f"{VISIT}/times")
    assert "2pm to 3:30pm" in page.text and "Select up to 3." in page.text
    refused = node.answer("times", {"times": [full]}, base=VISIT)
    assert refused.status_code == 400


def test_a_slot_that_filled_after_it_was_chosen_is_refused_at_submission(
    node: JourneyNode,
) -> None:
    sessions = sessions_of(node)
    last_place = add_local_slot(sessions, window().first, 11, capacity=1)
    node.sign_in(ADA)
    answer_all(node, visit_pages([last_place]))
    other = stored_request(sessions, BEA, [last_place])
    assert run_decide(node, other, approve(last_place)) == "decided"

    sent = node.submit(VISIT)
    assert sent.status_code == 400
    assert "is no longer available: choose visit times again" in sent.text
    assert f'href="{VISIT}/times?return=check"' in sent.text
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 1


def test_a_refusal_books_nothing_and_tells_the_visitor_why(node: JourneyNode) -> None:
    sessions = sessions_of(node)
    time = add_local_slot(sessions, window().first, 11, capacity=3)
    reference = stored_request(sessions, BEA, [time])
    refuse = Decision("refused", "The prisoner has no visits left this month", "manager")
    assert run_decide(node, reference, refuse) == "decided"
    assert slot_of(sessions, time).booked == 0
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(VisitBooking)) == 0
    told = emails(sessions)[f"application:{reference}:refused"]
    assert "Why: The prisoner has no visits left this month" in told[2]
    assert run_decide(node, reference, approve(time)) == "already-decided"


def test_a_full_slot_refuses_the_approval_and_keeps_nothing(node: JourneyNode) -> None:
    sessions = sessions_of(node)
    time = add_local_slot(sessions, window().first, 11, capacity=1)
    first, second = stored_request(sessions, BEA, [time]), stored_request(sessions, CAL, [time])
    assert run_decide(node, first, approve(time)) == "decided"
    with pytest.raises(DecisionRefusedError, match=SLOT_FULL):
        run_decide(node, second, approve(time))
    assert status_of(node, second) == "submitted"
    assert f"application:{second}:confirmed" not in emails(sessions)


def test_two_approvals_of_the_last_place_at_once_book_it_once(node: JourneyNode) -> None:
    sessions = sessions_of(node)
    time = add_local_slot(sessions, window().first, 11, capacity=1)
    references = [stored_request(sessions, BEA, [time]), stored_request(sessions, CAL, [time])]
    outcomes: dict[str, str] = {}
    first_done = threading.Event()
    second_started = threading.Event()

    def first() -> None:
        # Confirms, then holds its transaction open until the second is waiting on it.
        with sessions.begin() as session:
            outcomes[references[0]] = run_in(session, references[0])
            first_done.set()
            wait_until_blocked(sessions, second_started)

    def second() -> None:
        first_done.wait(10)
        second_started.set()
        try:
            with sessions.begin() as session:
                outcomes[references[1]] = run_in(session, references[1])
        except DecisionRefusedError as refused:
            outcomes[references[1]] = str(refused)

    def run_in(session: Session, reference: str) -> str:
        now = datetime.now(UTC)
        return decide(session, "book-a-prison-visit", reference, approve(time), definition(), now)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert outcomes == {references[0]: "decided", references[1]: SLOT_FULL}
    assert slot_of(sessions, time).booked == 1
    with sessions.begin() as session:
        assert session.scalars(select(VisitBooking.application_reference)).all() == [references[0]]
    assert [status_of(node, r) for r in references] == ["approved", "submitted"]


def wait_until_blocked(sessions: sessionmaker[Session], started: threading.Event) -> None:
    """Return once the other transaction has started and, on PostgreSQL, waits for a lock
    this one holds (SQLite has one writer: the other waits at its first write)."""
    assert started.wait(10)
    with sessions() as probe:
        if probe.get_bind().dialect.name != "postgresql":
            return
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    with sessions() as watcher:
        while datetime.now(UTC) < deadline:
            waiting = watcher.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            watcher.rollback()
            if waiting:
                return
    raise AssertionError("the second approval never waited for the first")


def test_withdrawing_a_request_not_yet_decided_holds_nothing_and_tells_the_visitor(
    node: JourneyNode,
) -> None:
    sessions = sessions_of(node)
    time = add_local_slot(sessions, window().first, 11, capacity=1)
    reference = stored_request(sessions, ADA, [time])
    node.sign_in(ADA)
    page = node.get(f"/applications/{reference}")
    assert "Withdraw application" in page.text and "Cancel this visit" not in page.text
    token = node.csrf(f"/applications/{reference}/withdraw")
    withdrawn = node.post(f"/applications/{reference}/withdraw", data={"csrf_token": token})
    assert withdrawn.status_code == 303
    assert status_of(node, reference) == "withdrawn"
    told = emails(sessions)[f"application:{reference}:cancelled"]
    assert "your request to visit HMP Cardiff" in told[2]
    assert run_decide(node, reference, approve(time)) == "already-decided"
    assert slot_of(sessions, time).booked == 0
