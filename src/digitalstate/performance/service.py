"""Performance use cases: record a journey's events, read back what the journey needs, and
compute and keep each service's counts by month.

The functions that take a session never commit: an event is written in the same transaction
as what it records (a page's answers saved, an application made), so that either both are
kept or neither is. refresh_months, background work, takes the engine and commits each
service's month on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from digitalstate.performance.domain import ServiceEvent
from digitalstate.performance.engine import (
    MonthResult,
    analytics,
    compute_month,
    services_with_events,
)
from digitalstate.performance.figures import MonthCounts, months_of, next_month, year_start
from digitalstate.performance.models import ServiceEventRow, ServiceGaveUp, ServiceMonth

YEAR = 12
SETTLE_AFTER = timedelta(days=1)


def record(session: Session, *events: ServiceEvent) -> None:
    """Add events to the caller's transaction (one INSERT of them all)."""
    if events:
        # A shallow copy of each event's fields: asdict would deep-copy every value.
        session.execute(insert(ServiceEventRow), [dict(vars(event)) for event in events])


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


def rated_before(session: Session, journey: str) -> bool:
    """True when the journey has a `rated` event already."""
    found = session.scalar(
        select(ServiceEventRow.id)
        .where(ServiceEventRow.journey == journey, ServiceEventRow.kind == "rated")
        .limit(1)
    )
    return found is not None


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


# --- each service's counts by month, computed from the events and kept ----------------------


def refresh_months(engine: Engine, now: datetime, months: int = YEAR) -> int:
    """Compute the counts of every service with events for the months ending with now's, but
    those already settled; keep them. A month is settled once computed a day after it ended
    (what happens later is counted in later months). How many (service, month) were computed."""
    wanted = months_of(year_start(now.date(), months), months)
    with engine.connect() as connection:
        services = services_with_events(connection)
    if not services:
        return 0
    with Session(engine) as session:
        settled = set(
            session.execute(
                select(ServiceMonth.service, ServiceMonth.month).where(
                    ServiceMonth.settled, ServiceMonth.month >= wanted[0]
                )
            )
        )
    computed = 0
    with analytics() as duck:
        for service in services:
            for month in wanted:
                if (service, month) in settled:
                    continue
                with engine.connect() as connection:
                    result = compute_month(connection, service, month, duck)
                with Session(engine) as session, session.begin():
                    keep_month(session, result, now)
                computed += 1
    return computed


def keep_month(session: Session, result: MonthResult, now: datetime) -> None:
    """Keep a service's counts for a month in place of those computed before."""
    counts = result.counts
    key = (counts.service, counts.month)
    session.execute(
        delete(ServiceMonth).where(tuple_(ServiceMonth.service, ServiceMonth.month) == key)
    )
    session.execute(
        delete(ServiceGaveUp).where(tuple_(ServiceGaveUp.service, ServiceGaveUp.month) == key)
    )
    r1, r2, r3, r4, r5 = counts.ratings
    session.add(
        ServiceMonth(
            service=counts.service,
            month=counts.month,
            started=counts.started,
            started_completed=counts.started_completed,
            completed_digital=counts.completed_digital,
            completed_assisted=counts.completed_assisted,
            refused=counts.refused,
            left=counts.left,
            rated_1=r1,
            rated_2=r2,
            rated_3=r3,
            rated_4=r4,
            rated_5=r5,
            median_ms=counts.median_ms,
            p90_ms=counts.p90_ms,
            computed_at=now,
            settled=now.date() >= next_month(counts.month) + SETTLE_AFTER,
        )
    )
    session.add_all(
        ServiceGaveUp(service=counts.service, month=counts.month, page=page, journeys=journeys)
        for page, journeys in result.gave_up.items()
    )


def stored_months(session: Session, months: Sequence[date]) -> list[MonthCounts]:
    """Every service's counts kept for months."""
    rows = session.scalars(
        select(ServiceMonth)
        .where(ServiceMonth.month.in_(months))
        .order_by(ServiceMonth.service, ServiceMonth.month)
    )
    return [
        MonthCounts(
            row.service,
            row.month,
            started=row.started,
            started_completed=row.started_completed,
            completed_digital=row.completed_digital,
            completed_assisted=row.completed_assisted,
            refused=row.refused,
            left=row.left,
            ratings=(row.rated_1, row.rated_2, row.rated_3, row.rated_4, row.rated_5),
            median_ms=row.median_ms,
            p90_ms=row.p90_ms,
        )
        for row in rows
    ]


def stored_gave_up(session: Session, service: str, months: Sequence[date]) -> dict[str, int]:
    """How many of service's journeys started in months gave up at each page, most first."""
    rows = session.execute(
        select(ServiceGaveUp.page, func.sum(ServiceGaveUp.journeys))
        .where(ServiceGaveUp.service == service, ServiceGaveUp.month.in_(months))
        .group_by(ServiceGaveUp.page)
        .order_by(func.sum(ServiceGaveUp.journeys).desc(), ServiceGaveUp.page)
    )
    return {page: int(total) for page, total in rows}


def last_computed(session: Session) -> datetime | None:
    """When the counts were last computed, or None."""
    return session.scalar(select(func.max(ServiceMonth.computed_at)))
