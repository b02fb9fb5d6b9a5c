"""Tables of the charter node: people, their sign-in, delegations, sign-in codes and the ids of
client assertions already used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class Person(Base):
    """A person with an account at the charter node. The id never leaves this node."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str] = mapped_column(String(200))
    level_of_assurance: Mapped[str] = mapped_column(String(20), default="low")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Delegation(Base):
    """A person lets a helper act for them, for a scope, until an expiry.

    The person names the helper by email (kept normalised, as typed). helper_id is the account
    with that email; None while no account has it, and then the delegation grants nothing.
    """

    __tablename__ = "delegations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    helper_email: Mapped[str] = mapped_column(String(320), index=True)
    helper_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.id"), index=True, nullable=True
    )
    scope: Mapped[str] = mapped_column(String(200))  # space-separated, e.g. "consent"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


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
    # SHA-256 of nonce: one live code per client and nonce, held by the unique key (the nonce
    # is the client's, of any length; a key on it could outgrow an index row).
    nonce_hash: Mapped[str] = mapped_column(String(64))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_oidc_codes_expires_at", "expires_at"),
        UniqueConstraint("client_id", "nonce_hash", name="uq_oidc_codes_client_id_nonce_hash"),
    )


class UsedAssertionId(Base):
    """A client assertion's jti (RFC 7523) a member used at the token endpoint: usable once.

    The primary key makes the INSERT itself the check, at every worker of the node and after a
    restart (docs/adr/0023). jti is kept as its SHA-256: the client chooses it, of any length.
    """

    __tablename__ = "oidc_used_assertions"

    client_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Unix seconds: the assertion's exp plus the leeway it is accepted with. Past it, the
    # assertion is refused on its time alone, so the row is no longer needed.
    expires_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_oidc_used_assertions_expires_at", "expires_at"),)


class IssuedPseudonym(Base):
    """A pseudonym the charter has given a node for a person (to map it back, on a basis read)."""

    __tablename__ = "issued_pseudonyms"

    member_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SignInAttempt(Base):
    """One attempt to sign in at the charter: whose account, from which client, and its outcome.

    The account is a SHA-256 of the normalised email typed, whether or not it has an account,
    so that a lock answers the same either way and strangers' typos are not kept readable.
    """

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    account: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_sign_in_attempts_account_at", "account", "at"),
        Index("ix_sign_in_attempts_client_at", "client", "at"),
        Index("ix_sign_in_attempts_at", "at"),
    )
