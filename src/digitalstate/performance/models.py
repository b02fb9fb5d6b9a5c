"""Tables of performance: the events declared services' journeys record (performance/domain.py),
and each service's counts by month computed from them.

One row an event; the figures a node publishes are computed from them. Rows are read by
service and time (the monthly figures) and by journey (the time since it was started, the
last page of one that was left).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.performance.domain import MAX_JOURNEY_CHARS, MAX_SLUG_CHARS
from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class ServiceEventRow(Base):
    """An event of a journey through a declared service."""

    __tablename__ = "service_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    service: Mapped[str] = mapped_column(String(MAX_SLUG_CHARS))  # the service's slug
    journey: Mapped[str | None] = mapped_column(String(MAX_JOURNEY_CHARS), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    page: Mapped[str | None] = mapped_column(String(MAX_SLUG_CHARS), nullable=True)
    channel: Mapped[str] = mapped_column(String(8))
    variant: Mapped[str | None] = mapped_column(String(MAX_SLUG_CHARS), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_service_events_service_at", "service", "at"),
        Index("ix_service_events_journey", "journey"),
        CheckConstraint(
            "kind IN ('started', 'page', 'answer_error', 'completed', 'refused', 'left', 'rated')",
            name="kind",
        ),
        CheckConstraint("channel IN ('digital', 'assisted')", name="channel"),
        CheckConstraint("value IS NULL OR (value >= 1 AND value <= 5)", name="value"),
    )


class ServiceMonth(Base):
    """A service's counts for a month, as last computed from its events (performance/engine.py):
    what the dashboards and datasets read, so that no page reads the events themselves.

    A month is computed again until it is settled (computed after it ended); then never.
    """

    __tablename__ = "service_months"

    service: Mapped[str] = mapped_column(String(MAX_SLUG_CHARS), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    started: Mapped[int] = mapped_column(Integer)
    started_completed: Mapped[int] = mapped_column(Integer)
    completed_digital: Mapped[int] = mapped_column(Integer)
    completed_assisted: Mapped[int] = mapped_column(Integer)
    refused: Mapped[int] = mapped_column(Integer)
    left: Mapped[int] = mapped_column(Integer)
    rated_1: Mapped[int] = mapped_column(Integer)
    rated_2: Mapped[int] = mapped_column(Integer)
    rated_3: Mapped[int] = mapped_column(Integer)
    rated_4: Mapped[int] = mapped_column(Integer)
    rated_5: Mapped[int] = mapped_column(Integer)
    median_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    p90_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    settled: Mapped[bool] = mapped_column(Boolean)


class ServiceGaveUp(Base):
    """How many journeys of a service started in a month ended at a page without completing."""

    __tablename__ = "service_gave_up"

    service: Mapped[str] = mapped_column(String(MAX_SLUG_CHARS), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    page: Mapped[str] = mapped_column(String(MAX_SLUG_CHARS), primary_key=True)
    journeys: Mapped[int] = mapped_column(Integer)
