"""Tables of the signed exchange: the nonces of accepted requests, kept against replay."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.exchange.verification import MAX_NONCE_LENGTH
from digitalstate.storage.base import Base


class ExchangeNonceRow(Base):
    """A (key id, nonce) pair this node accepted, until its signature is too old to replay."""

    __tablename__ = "exchange_nonces"

    keyid: Mapped[str] = mapped_column(String(63), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(MAX_NONCE_LENGTH), primary_key=True)
    # Unix seconds: the signature's created time plus the clock skew. Past it, the clock check
    # alone refuses the signature, so the row is no longer needed.
    expires_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_exchange_nonces_expires_at", "expires_at"),)
