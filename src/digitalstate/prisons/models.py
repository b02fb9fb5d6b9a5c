"""Tables of a node with [prisons]: the prisons, their register of prisoners, their visit slots
and the visits booked in them.

The register of prisoners is the prisons' own record of who is in their care (a number, names,
a date of birth, the prison), against which a visit request is checked; it is not the personal
data of the visitor, which stays in the application (services/models.py).

A slot's `booked` counts its confirmed visits, and never passes `capacity`: a confirmation
takes a place with one guarded UPDATE (`booked = booked + 1 WHERE booked < capacity`), so two
confirmations of the last place at once leave one booked and the other refused, on SQLite and
PostgreSQL alike (prisons/service.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class Prison(Base):
    """A prison that takes visit requests through this node."""

    __tablename__ = "prisons"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "cardiff", as the service's
    name: Mapped[str] = mapped_column(String(100))  # "HMP Cardiff"


class Prisoner(Base):
    """Someone in a prison's care, as the prison's register names them."""

    __tablename__ = "prisoners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prison_number: Mapped[str] = mapped_column(String(7), unique=True)  # A1234BC
    given_names: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    prison_id: Mapped[str] = mapped_column(ForeignKey("prisons.id"))

    __table_args__ = (Index("ix_prisoners_prison_id", "prison_id"),)


class VisitSlot(Base):
    """A visiting time at a prison: when, and how many visits (tables) it takes."""

    __tablename__ = "visit_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prison_id: Mapped[str] = mapped_column(ForeignKey("prisons.id"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)  # confirmed visits

    __table_args__ = (
        UniqueConstraint("prison_id", "starts_at"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="places"),
        CheckConstraint("ends_at > starts_at", name="times"),
    )


class VisitBooking(Base):
    """A visit a prison confirmed in a slot, for an application; cancelled when the visitor
    cancels it (its place is then free again)."""

    __tablename__ = "visit_bookings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("visit_slots.id"))
    application_reference: Mapped[str] = mapped_column(String(20), unique=True)
    visitors: Mapped[int] = mapped_column(Integer)  # everyone coming, the main visitor too
    status: Mapped[str] = mapped_column(String(10))  # confirmed, cancelled
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_visit_bookings_slot_id", "slot_id"),
        CheckConstraint("status IN ('confirmed', 'cancelled')", name="status"),
    )
