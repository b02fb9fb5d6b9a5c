"""A staff decision on an application (services/applications.decide), on SQLite and PostgreSQL:
one status change and one event, the service's decision hook in the same transaction, and a
decision that loses to a withdrawal or another decision changing nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.services.applications import decide, withdraw
from digitalstate.services.definitions import ServiceDefinition, read_definition
from digitalstate.services.handlers import (
    DECISION_HOOKS,
    Decision,
    DecisionRefusedError,
)
from digitalstate.services.models import Application, ApplicationEvent
from integration.journey_support import write_definitions

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
SUBJECT = "a" * 64


@pytest.fixture
def definition(tmp_path: Path) -> ServiceDefinition:
    return read_definition(Path(write_definitions(tmp_path)[0]))


def _application(sessions: sessionmaker[Session], slug: str) -> str:
    with sessions.begin() as session:
        session.add(
            Application(
                reference="BUS-7KD4-MX2Q-P",
                slug=slug,
                subject=SUBJECT,
                channel="digital",
                acting_by=None,
                answers="{}",
                sources="{}",
                language="en",
                submitted_at=NOW,
                status="submitted",
                updated_at=NOW,
                submission_token="t" * 43,
            )
        )
    return "BUS-7KD4-MX2Q-P"


def _history(sessions: sessionmaker[Session]) -> list[tuple[str, str | None, str]]:
    with sessions.begin() as session:
        return [
            (e.status, e.reason, e.by)
            for e in session.scalars(select(ApplicationEvent).order_by(ApplicationEvent.id))
        ]


def test_an_approval_changes_the_status_once_and_runs_the_hook_in_its_transaction(
    sessions: sessionmaker[Session], definition: ServiceDefinition
) -> None:
    reference = _application(sessions, definition.slug)
    seen: list[tuple[str, str | None]] = []

    def hook(
        _session: Session, app: Application, _d: ServiceDefinition, dec: Decision, _n: datetime
    ) -> None:
        seen.append((app.status, dec.choice))

    assert definition.submit is not None
    approve = Decision("approved", None, "caseworker", choice="2026-05-04T14:00")
    with DECISION_HOOKS.registered(definition.submit.action, hook), sessions.begin() as session:
        assert decide(session, definition.slug, reference, approve, definition, NOW) == "decided"
    assert seen == [("approved", "2026-05-04T14:00")]
    with sessions.begin() as session:
        again = decide(session, definition.slug, reference, approve, definition, NOW)
        assert again == "already-decided"
        assert withdraw(session, SUBJECT, reference, "person", NOW) == "decided"
    assert _history(sessions) == [("approved", None, "caseworker")]


def test_a_refusal_needs_a_reason_and_a_hook_that_refuses_keeps_nothing(
    sessions: sessionmaker[Session], definition: ServiceDefinition
) -> None:
    reference = _application(sessions, definition.slug)
    with pytest.raises(DecisionRefusedError, match="reason"), sessions.begin() as session:
        decide(
            session,
            definition.slug,
            reference,
            Decision("refused", " ", "manager"),
            definition,
            NOW,
        )

    def full(*_args: object) -> None:
        raise DecisionRefusedError("That slot is full")

    assert definition.submit is not None
    approve = Decision("approved", None, "caseworker")
    with (
        DECISION_HOOKS.registered(definition.submit.action, full),
        pytest.raises(DecisionRefusedError),
        sessions.begin() as session,
    ):
        decide(session, definition.slug, reference, approve, definition, NOW)
    with sessions.begin() as session:
        assert session.scalars(select(Application.status)).one() == "submitted"
    assert _history(sessions) == []
    with sessions.begin() as session:
        assert decide(session, "other-service", reference, approve, definition, NOW) == "unknown"
