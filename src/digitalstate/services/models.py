"""Tables of a service node: the facts it read under consent, and the consents it holds ids of."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class ServiceConsent(Base):
    """A consent id the service received, for the person it knows by its own pseudonym."""

    __tablename__ = "service_consents"

    consent_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))  # this node's pseudonym (OIDC sub)
    holder: Mapped[str] = mapped_column(String(63))
    fields: Mapped[str] = mapped_column(Text)  # JSON list
    purpose: Mapped[str] = mapped_column(String(63))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # active, refused (a read was refused)

    __table_args__ = (Index("ix_service_consents_subject", "subject"),)


class ServiceCopy(Base):
    """The values the service last read from a register under a consent."""

    __tablename__ = "service_copies"

    consent_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    data: Mapped[str] = mapped_column(Text)  # JSON object
    version: Mapped[int] = mapped_column(Integer)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ServiceConsentReturn(Base):
    """A way back from the consent screen this service used: each request's answer once only."""

    __tablename__ = "service_consent_returns"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime] = mapped_column(UtcDateTime())
