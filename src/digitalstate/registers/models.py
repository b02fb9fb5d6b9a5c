"""Tables of a register node: the authoritative record of each person, and its outbox.

The outbox is the register's: a change writes its notices here in the change's own
transaction; tellusonce's delivery worker sends them (tellusonce imports this, never the
reverse).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class RegisterRecord(Base):
    """One person's facts at this register, keyed by this register's pseudonym for them."""

    __tablename__ = "register_records"

    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)  # JSON object: field name -> value
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A change notice to deliver, written in the same transaction as the change (holder)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    consent_id: Mapped[str] = mapped_column(String(36))
    requester: Mapped[str] = mapped_column(String(63))
    pseudonym: Mapped[str] = mapped_column(String(64))  # the holder's, for the person's view
    fields: Mapped[str] = mapped_column(Text)  # JSON list of changed field names
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_outbox_due", "delivered_at", "dead_at", "next_attempt_at"),
        Index("ix_outbox_pseudonym", "pseudonym"),
    )
