"""Tables of a register node: the authoritative record of each person it holds facts about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
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
