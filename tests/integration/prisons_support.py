"""Book a prison visit, for tests: the demo's definition run by a node with [prisons], the
demo's register of prisoners and slots in its database, a visitor's answers page by page, and
requests stored as the journey stores them (for the tests of deciding, which need several).

The node is journey_support's in-process node (signed in through its test route), with the
real book-a-prison-visit.toml and the real action, slot source, decision hook and
cancellation (prisons/feature.py registers them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.demo.prisons import seed_prisons
from digitalstate.mail.models import OutboxEmail
from digitalstate.prisons.domain import TIMEZONE, Window, booking_window, slot_value
from digitalstate.prisons.models import VisitSlot
from digitalstate.prisons.service import add_slot
from digitalstate.services.definitions import ServiceDefinition, read_definition
from digitalstate.services.models import Application, ApplicationEvent
from digitalstate.services.references import new_reference
from integration.journey_support import ADDRESS_FORM, JourneyNode, date_form, journey_node

VISIT = "/services/book-a-prison-visit"
DEFINITION_FILE = DEMO_SERVICES / "book-a-prison-visit.toml"
REFERENCE = re.compile(r"\bPV-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\b")
# The demo's first prisoner (demo/prisons.py), at HMP Cardiff.
PRISONER = {
    "prisoner-first-name": "John",
    "prisoner-last-name": "Smith",
    **date_form("prisoner-date-of-birth", 12, 3, 1985),
    "prisoner-number": "a1234bc",
}
VISITOR_EMAIL = "ada@example.org"


def definition() -> ServiceDefinition:
    """The demo's book-a-prison-visit definition."""
    return read_definition(DEFINITION_FILE)


def window() -> Window:
    """The booking window of a request made today, under the default [prisons] settings."""
    return booking_window(datetime.now(UTC).date(), 3, 28)


@contextmanager
def prisons_node(directory: Path, database_url: str) -> Iterator[JourneyNode]:
    """A node with [prisons] running the demo's book-a-prison-visit, its register seeded as
    the demo seeds it (today's four weeks of slots)."""
    text = DEFINITION_FILE.read_text()
    with journey_node(
        directory, database_url, {"book-a-prison-visit.toml": text}, extra={"prisons": {}}
    ) as node:
        with node.node.runtime.sessions.begin() as session:
            seed_prisons(session, datetime.now(UTC))
        yield node


def add_local_slot(
    sessions: sessionmaker[Session], day: date, hour: int, capacity: int, prison: str = "cardiff"
) -> str:
    """A slot of an hour at prison on day at hour (local time); its value."""
    starts = datetime(day.year, day.month, day.day, hour, tzinfo=TIMEZONE)
    with sessions.begin() as session:
        assert add_slot(
            session,
            prison_id=prison,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            capacity=capacity,
        )
        slot = session.scalars(
            select(VisitSlot).where(VisitSlot.prison_id == prison, VisitSlot.starts_at == starts)
        ).one()
        return slot_value(slot.id, slot.starts_at, slot.ends_at)


def slot_of(sessions: sessionmaker[Session], value: str) -> VisitSlot:
    """The slot a value names."""
    with sessions.begin() as session:
        found = session.get(VisitSlot, int(value.rsplit("#", 1)[1]))
        assert found is not None
        return found


def visit_pages(
    times: Sequence[str],
    others: Sequence[tuple[str, date]] = (),
    prisoner: dict[str, str] = PRISONER,
) -> list[tuple[str, dict[str, Any]]]:
    """Each page of the journey and a visitor's typed answers to it (others: the other
    visitors' names and dates of birth)."""
    pages: list[tuple[str, dict[str, Any]]] = [
        ("prisoner", dict(prisoner)),
        ("prison", {"prison": "cardiff"}),
        (
            "you",
            {
                "first-name": "Ada",
                "last-name": "Lovelace",
                **date_form("date-of-birth", 2, 4, 1980),
            },
        ),
        ("your-address", dict(ADDRESS_FORM)),
        ("other-visitors", {"other-visitors": str(len(others))}),
    ]
    for number, (name, born) in enumerate(others, start=1):
        visitor = {f"visitor-{number}-name": name}
        visitor |= date_form(f"visitor-{number}-date-of-birth", born.day, born.month, born.year)
        pages.append((f"visitor-{number}", visitor))
    pages += [("times", {"times": list(times)}), ("email", {"email": VISITOR_EMAIL})]
    return pages


def answer_all(node: JourneyNode, pages: list[tuple[str, dict[str, Any]]]) -> None:
    """Start the journey, type the answers, and answer every page (each must be taken)."""
    node.type_answers(VISIT, "prisoner")
    for page, data in pages:
        answered = node.answer(page, data, base=VISIT)
        assert answered.status_code == 303, (page, answered.text)


def offered(node: JourneyNode) -> list[str]:
    """The slot values the times page offers now (the prison answered already)."""
    page = node.get(f"{VISIT}/times")
    assert page.status_code == 200, page.text
    return re.findall(r'name="times" type="checkbox" value="([^"]+)"', page.text)


def stored_request(
    sessions: sessionmaker[Session], subject: str, times: Sequence[str], others: int = 0
) -> str:
    """A request for a visit to the demo's first prisoner, stored as submitting one stores it
    (status submitted, its first event); its reference."""
    reference = str(new_reference("PV"))
    now = datetime.now(UTC)
    answers = {
        "prisoner-first-name": "John",
        "prisoner-last-name": "Smith",
        "prisoner-date-of-birth": "1985-03-12",
        "prisoner-number": "A1234BC",
        "prison": "cardiff",
        "first-name": "Bea",
        "last-name": "Visitor",
        "date-of-birth": "1970-01-01",
        "other-visitors": others,
        **{f"visitor-{n}-name": f"Child {n}" for n in range(1, others + 1)},
        **{f"visitor-{n}-date-of-birth": "2016-01-01" for n in range(1, others + 1)},
        "times": list(times),
        "email": f"{subject[:8]}@example.org",
    }
    with sessions.begin() as session:
        application = Application(
            reference=reference,
            slug="book-a-prison-visit",
            subject=subject,
            channel="digital",
            acting_by=None,
            answers=json.dumps(answers),
            sources="{}",
            language="en",
            submitted_at=now,
            status="submitted",
            updated_at=now,
            submission_token=reference,
        )
        session.add(application)
        session.flush()
        session.add(
            ApplicationEvent(
                application_id=application.id, at=now, status="submitted", reason=None, by="person"
            )
        )
    return reference


def emails(sessions: sessionmaker[Session]) -> dict[str, tuple[list[str], str, str]]:
    """The outbox: each message's key, and its recipients, subject and body."""
    with sessions.begin() as session:
        return {
            row.dedupe_key: (json.loads(row.recipients), row.subject, row.body)
            for row in session.scalars(select(OutboxEmail).order_by(OutboxEmail.id))
        }
