"""Tables of the trust anchor: every signed version of the federation document."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class FederationDocumentRow(Base):
    """One signed version of the federation document, never changed once written."""

    __tablename__ = "federation_documents"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    envelope: Mapped[str] = mapped_column(Text)
