"""The electoral registration office's table: the identity check of each application."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class IdentityCheck(Base):
    """The check of one register-to-vote application against the registers: written with the
    application, worked by the identity check worker (claimed, like the email outbox), and
    ended by a match, a request for evidence, or a decision."""

    __tablename__ = "electoral_identity_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(String(16))  # electoral/domain.py: pending, matched, ...
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A worker matching it holds it until claimed_until; claim says which worker.
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (Index("ix_electoral_identity_checks_due", "state", "next_attempt_at"),)
