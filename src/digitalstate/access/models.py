"""The access record table, kept by every node that holds or changes a person's data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base


class AccessRecord(Base):
    """One access to a person's data: who, what, when, why, on which ground, with what result."""

    __tablename__ = "access_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(64))  # this node's pseudonym for the person
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requester: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(32))  # read, refused, notified, consent-given, ...
    purpose: Mapped[str | None] = mapped_column(String(63), nullable=True)
    consent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    basis_id: Mapped[str | None] = mapped_column(String(63), nullable=True)
    fields: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of field names
    outcome: Mapped[str] = mapped_column(String(16))  # allowed, refused, delivered, ...
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_access_records_pseudonym_at", "pseudonym", "at"),)
