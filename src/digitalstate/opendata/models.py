"""Tables of the open data portal: every version of every dataset it harvested, and how the
harvest of each member's list and each dataset last went (docs/opendata.md).

The rows of a version's resources are not here: they are Parquet files in the node's data
directory (opendata/store.py, ADR 0029); a version is recorded once its files are written.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class HarvestedVersion(Base):
    """A version of a member's dataset the portal harvested: its package as the member served it."""

    __tablename__ = "opendata_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publisher: Mapped[str] = mapped_column(String(63))  # the member's id
    dataset: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(32))
    package: Mapped[str] = mapped_column(Text)  # JSON: the Data Package descriptor
    content_digest: Mapped[str] = mapped_column(String(64))
    harvested_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("publisher", "dataset", "version"),)


class HarvestStatus(Base):
    """How the harvest of a member's dataset last went; dataset "" is the member's list."""

    __tablename__ = "opendata_harvests"

    publisher: Mapped[str] = mapped_column(String(63), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(63), primary_key=True)
    current_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("opendata_versions.id"), nullable=True
    )
    last_harvested_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_failure: Mapped[str | None] = mapped_column(Text, nullable=True)
