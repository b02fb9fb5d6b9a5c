"""Consent tables: the charter's records and requests, and each holder's copy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class ConsentRequest(Base):
    """A service's request for consent, waiting for the person's answer (charter)."""

    __tablename__ = "consent_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requester: Mapped[str] = mapped_column(String(63))
    subject: Mapped[str] = mapped_column(String(64))  # the requester's pseudonym
    holder: Mapped[str] = mapped_column(String(63))
    fields: Mapped[str] = mapped_column(Text)  # JSON list
    purpose: Mapped[str] = mapped_column(String(63))
    duration_days: Mapped[int] = mapped_column(Integer)
    notify: Mapped[bool] = mapped_column(Boolean)
    return_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    consent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Consent(Base):
    """A consent as the charter keeps it: who, what, why, until when, and its signed record."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    requester: Mapped[str] = mapped_column(String(63))
    holder: Mapped[str] = mapped_column(String(63))
    fields: Mapped[str] = mapped_column(Text)  # JSON list
    purpose: Mapped[str] = mapped_column(String(63))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    notify: Mapped[bool] = mapped_column(Boolean)
    given_by: Mapped[str | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    delegation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # active, withdrawn, expired
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    record: Mapped[str] = mapped_column(Text)  # the signed envelope, JSON
    # When the holder last confirmed the current status; None while a withdrawal still has to
    # reach it (the charter retries until it does).
    holder_synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class ConsentEvent(Base):
    """The status history of a consent (charter)."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(16))  # person, helper, system
    detail: Mapped[str] = mapped_column(Text, default="")


class HeldConsent(Base):
    """The holder's copy of a consent, checked on every read (register)."""

    __tablename__ = "held_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requester: Mapped[str] = mapped_column(String(63))
    holder_pseudonym: Mapped[str] = mapped_column(String(64))
    fields: Mapped[str] = mapped_column(Text)  # JSON list
    purpose: Mapped[str] = mapped_column(String(63))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    notify: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    record: Mapped[str] = mapped_column(Text)  # the charter's signed envelope, JSON

    __table_args__ = (Index("ix_held_consents_holder_pseudonym", "holder_pseudonym"),)
