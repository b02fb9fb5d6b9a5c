"""Tell-us-once tables: the requester's received notices (the holder's outbox is registers')."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class ReceivedNotice(Base):
    """A change notice received once; a duplicate changes nothing (requester)."""

    __tablename__ = "received_notices"

    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(63))
    consent_id: Mapped[str] = mapped_column(String(36))
    fields: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
