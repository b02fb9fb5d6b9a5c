"""Tables of a service node: the facts it read under consent, the consents it holds ids of, and
the drafts, applications and uploads of its declared services."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
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


# --- declared services: drafts, applications, their history and their files (ADR 0017) ------


class ServiceDraft(Base):
    """A person's answers to a service so far: one per person and service, saved at every page.

    Keyed by this node's pseudonym for the person, so a sign-out, an expired session or another
    worker keeps it. sources says where each answer came from (a register's value under a
    consent, or typed in). The submission token is random and used once: the application made
    with it carries it, so a second submit with the same token finds that application.
    """

    __tablename__ = "service_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, hex
    subject: Mapped[str] = mapped_column(String(64))  # this node's pseudonym (OIDC sub)
    slug: Mapped[str] = mapped_column(String(63))
    answers: Mapped[str] = mapped_column(Text)  # JSON: question id -> typed answer
    sources: Mapped[str] = mapped_column(Text)  # JSON: question id -> "entered" or a register's
    consent: Mapped[str | None] = mapped_column(String(16), nullable=True)  # None, "declined"
    language: Mapped[str] = mapped_column(String(8))
    submission_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    held_by: Mapped[str | None] = mapped_column(String(36), nullable=True)  # a staff account

    __table_args__ = (
        UniqueConstraint("subject", "slug"),
        Index("ix_service_drafts_held_by", "held_by"),
    )


class Application(Base):
    """A submitted application: what was sent, by which channel, and its status now."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # RTV-7KD4-MX2Q-P
    slug: Mapped[str] = mapped_column(String(63))
    subject: Mapped[str] = mapped_column(String(64))  # the applicant: this node's pseudonym
    channel: Mapped[str] = mapped_column(String(16))  # digital, assisted or helper
    # Who acted for the applicant: the helper's pseudonym here (helper), or the staff member
    # (assisted); None when the person applied themselves.
    acting_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    answers: Mapped[str] = mapped_column(Text)  # JSON: what was submitted
    sources: Mapped[str] = mapped_column(Text)  # JSON: where each answer came from
    language: Mapped[str] = mapped_column(String(8))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # the newest event's status
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submission_token: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_applications_subject", "subject"),
        Index("ix_applications_slug_status", "slug", "status"),
    )


class ApplicationEvent(Base):
    """One step of an application's status history."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # submitted, in-review, approved, ...
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    by: Mapped[str] = mapped_column(String(32))  # person, helper, or a staff role

    __table_args__ = (Index("ix_application_events_application_id", "application_id"),)


class ApplicationFile(Base):
    """A file uploaded as an answer: held by a draft until it is submitted, then by its
    application. Its type is told by its bytes (services/filetypes.py)."""

    __tablename__ = "application_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, hex
    draft_id: Mapped[str | None] = mapped_column(
        ForeignKey("service_drafts.id", ondelete="CASCADE"), nullable=True
    )
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), nullable=True
    )
    question_id: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(100))  # the file's name on the person's device
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_application_files_draft_id", "draft_id"),
        Index("ix_application_files_application_id", "application_id"),
    )


MAX_NOTE = 5_000  # characters of a staff note


class ApplicationNote(Base):
    """A note a member of staff wrote on an application's case page: by whom, as what, when."""

    __tablename__ = "application_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_accounts.id"))  # never deleted
    role: Mapped[str] = mapped_column(String(16))  # the role they had when they wrote it
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_application_notes_application_id", "application_id"),
        CheckConstraint(f"length(text) BETWEEN 1 AND {MAX_NOTE}", name="text_length"),
    )


class ServiceExperiment(Base):
    """Where an experiment a service declares stands: running (no row, or this one), or
    stopped with the winning variant everyone sees from then on (services/variants.py)."""

    __tablename__ = "service_experiments"

    service: Mapped[str] = mapped_column(String(63), primary_key=True)  # the service's slug
    experiment: Mapped[str] = mapped_column(String(31), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    winner: Mapped[str | None] = mapped_column(String(31), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    changed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)  # staff account

    __table_args__ = (
        CheckConstraint("state IN ('running', 'stopped')", name="state"),
        CheckConstraint("state = 'running' OR winner IS NOT NULL", name="winner"),
    )
