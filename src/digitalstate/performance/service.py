"""Performance use cases: record a journey's events, and read back what the journey needs.

Every function takes the caller's session and never commits: an event is written in the same
transaction as what it records (a page's answers saved, an application made), so that either
both are kept or neither is.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digitalstate.performance.domain import ServiceEvent
from digitalstate.performance.models import ServiceEventRow


def record(session: Session, *events: ServiceEvent) -> None:
    """Add events to the caller's transaction."""
    session.add_all(ServiceEventRow(**asdict(event)) for event in events)


def started_at(session: Session, journey: str) -> datetime | None:
    """When the journey was started (its first started event), or None."""
    return session.scalar(
        select(ServiceEventRow.at)
        .where(ServiceEventRow.journey == journey, ServiceEventRow.kind == "started")
        .order_by(ServiceEventRow.id)
        .limit(1)
    )


def last_event(session: Session, journey: str) -> ServiceEvent | None:
    """The journey's latest event, or None."""
    row = session.scalars(
        select(ServiceEventRow)
        .where(ServiceEventRow.journey == journey)
        .order_by(ServiceEventRow.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _event(row)


def last_page(session: Session, journey: str) -> str | None:
    """The last question page the journey viewed or answered, or None."""
    return session.scalar(
        select(ServiceEventRow.page)
        .where(ServiceEventRow.journey == journey, ServiceEventRow.page.is_not(None))
        .order_by(ServiceEventRow.id.desc())
        .limit(1)
    )


def journey_events(session: Session, journey: str) -> list[ServiceEvent]:
    """The journey's events, oldest first."""
    rows = session.scalars(
        select(ServiceEventRow)
        .where(ServiceEventRow.journey == journey)
        .order_by(ServiceEventRow.id)
    )
    return [_event(row) for row in rows]


def _event(row: ServiceEventRow) -> ServiceEvent:
    return ServiceEvent(
        service=row.service,
        kind=row.kind,  # type: ignore[arg-type]  # the table's check keeps it one of them
        at=row.at,
        journey=row.journey,
        page=row.page,
        channel=row.channel,  # type: ignore[arg-type]
        variant=row.variant,
        duration_ms=row.duration_ms,
        value=row.value,
    )
