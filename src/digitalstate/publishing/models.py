"""Tables of a node's published datasets: each version of each dataset, as it was published.

A version is recorded the first time its content is published (publishing/service.py); two
workers that publish the same new content at once record it once (the unique key).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class DatasetVersion(Base):
    """A version of a dataset the node published."""

    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(63))
    major: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    schema_digest: Mapped[str] = mapped_column(String(64))
    content_digest: Mapped[str] = mapped_column(String(64))
    rows: Mapped[str] = mapped_column(Text)  # JSON: resource name -> rows
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("dataset", "major", "minor"),)
