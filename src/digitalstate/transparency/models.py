"""The tables of the transparency log: entries, tree nodes, head, checkpoints, and what a
witness keeps about the other nodes' logs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits.
BigId = BigInteger().with_variant(Integer, "sqlite")

LEVEL_SHIFT = 50
"""A tree node's key is level << LEVEL_SHIFT | index: one integer primary key, no composite."""


class LogEntryRow(Base):
    """One entry. leaf_index is NULL until the sequencer integrates it into the tree."""

    __tablename__ = "log_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    pseudonym: Mapped[str] = mapped_column(String(64))  # this node's pseudonym for the person
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the canonical entry bytes

    __table_args__ = (
        Index("ix_log_entries_pseudonym_id", "pseudonym", "id"),
        Index(
            "ix_log_entries_pending",
            "id",
            sqlite_where=text("leaf_index IS NULL"),
            postgresql_where=text("leaf_index IS NULL"),
        ),
    )


class LogNode(Base):
    """A complete interior subtree's hash (level 1 and up; leaves are hashed from the entries)."""

    __tablename__ = "log_nodes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LogHead(Base):
    """The one row the sequencer locks: the integrated size and root hash."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LogCheckpoint(Base):
    """A checkpoint this node signed (the signed note, without cosignatures)."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LogCosignature(Base):
    """A witness's cosignature of one of this node's checkpoints."""

    __tablename__ = "log_cosignatures"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(63), primary_key=True)
    line: Mapped[str] = mapped_column(Text)  # the signature line as it goes in the note
    cosigned_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WitnessedLog(Base):
    """What this node, as a witness, last verified of another member's log."""

    __tablename__ = "log_witnessed"

    member: Mapped[str] = mapped_column(String(63), primary_key=True)
    origin: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    # The last checkpoint verified, as it was served; empty until one was.
    note: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cosigned_size: Mapped[int] = mapped_column(BigInteger, default=0)  # newest size cosigned
    # The rolling audit: leaf hashes re-read from audit_position on, folded into audit_border,
    # to be compared with audit_root (of the checkpoint of audit_size this witness verified)
    # when the pass reaches audit_size. audited_size/audited_at: the last pass that matched.
    audit_size: Mapped[int] = mapped_column(BigInteger, default=0)
    audit_root: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    audit_position: Mapped[int] = mapped_column(BigInteger, default=0)
    audit_border: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    audited_size: Mapped[int] = mapped_column(BigInteger, default=0)
    audited_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Reachability: since when the member's log could not be fetched, and why.
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class LogAlarm(Base):
    """Something a witness found wrong with another member's log, for the operator."""

    __tablename__ = "log_alarms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    member: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(32))  # fork, shrunk, bad-signature, audit, unreachable
    detail: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="")  # the checkpoints that conflict
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Who cleared it: "operator" (the operator page), or "witness" (an outage that ended).
    cleared_by: Mapped[str] = mapped_column(String(16), default="")

    __table_args__ = (Index("ix_log_alarms_member_at", "member", "at"),)
