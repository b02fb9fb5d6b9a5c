"""Tables of the charter node: people, their sign-in, delegations and sign-in codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base


class Person(Base):
    """A person with an account at the charter node. The id never leaves this node."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(String(200))
    level_of_assurance: Mapped[str] = mapped_column(String(20), default="low")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delegation(Base):
    """A person lets a helper act for them, for a scope, until an expiry."""

    __tablename__ = "delegations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    helper_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    scope: Mapped[str] = mapped_column(String(200))  # space-separated, e.g. "consent"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuthorizationCode(Base):
    """An OpenID Connect authorization code, usable once, for a short time."""

    __tablename__ = "oidc_codes"

    code: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(63))
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    acting_for: Mapped[str | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_oidc_codes_expires_at", "expires_at"),)


class IssuedPseudonym(Base):
    """A pseudonym the charter has given a node for a person (to map it back, on a basis read)."""

    __tablename__ = "issued_pseudonyms"

    member_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
