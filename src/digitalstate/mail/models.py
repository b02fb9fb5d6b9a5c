"""The email outbox: each message a node sends, queued in the transaction of what caused it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.mail.domain import MAX_KEY_CHARS, MAX_SUBJECT_CHARS
from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class OutboxEmail(Base):
    """A message to send, being sent, sent or failed for good. The worker deletes a sent one
    after [email] keep_sent_days (mail/worker.py), never a failed or unsent one."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    # The caller's name for this message: queueing it again under the same key does nothing.
    dedupe_key: Mapped[str] = mapped_column(String(MAX_KEY_CHARS), unique=True)
    recipients: Mapped[str] = mapped_column(Text)  # JSON list of addresses
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT_CHARS))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A worker sending it holds it until claimed_until; claim says which worker (a random token).
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_email_outbox_due", "sent_at", "failed_at", "next_attempt_at"),)
