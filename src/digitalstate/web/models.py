"""Tables of the web layer: people's signed-in sessions, revocable on the server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class WebSession(Base):
    """One sign-in on this node. The cookie holds the session id; only its hash is kept here."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256, hex
    kind: Mapped[str] = mapped_column(String(16))  # "person" (charter) or "subject" (OIDC)
    subject: Mapped[str] = mapped_column(String(128))  # a person id, or this node's pseudonym
    acr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acting_for: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # A hard end besides the timeouts: a helper's session ends at the acting lifetime or the
    # delegation's end, whichever is first (None: the timeouts alone).
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_web_sessions_kind_subject", "kind", "subject"),
        Index("ix_web_sessions_created_at", "created_at"),
    )
