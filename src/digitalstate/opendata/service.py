"""The portal's records of its harvest: versions kept, and each member's and dataset's status.

Written by the one worker that harvests (the opendata-harvest role), read by every worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digitalstate.node.runtime import NodeRuntime
from digitalstate.opendata.ckan import Catalogue, Harvested
from digitalstate.opendata.domain import Listed
from digitalstate.opendata.models import HarvestedVersion, HarvestStatus

MAX_FAILURE_CHARS = 2000


@dataclass(frozen=True)
class Status:
    """How the harvest of a member's list ("" as dataset) or of a dataset last went."""

    publisher: str
    dataset: str
    version: str | None
    last_harvested_at: datetime | None
    last_failure_at: datetime | None
    last_failure: str | None

    @property
    def failing(self) -> bool:
        """True when the last attempt failed (no success since the last failure)."""
        if self.last_failure_at is None:
            return False
        return self.last_harvested_at is None or self.last_failure_at >= self.last_harvested_at


def known_versions(session: Session, publisher: str) -> set[tuple[str, str]]:
    """The (dataset, version) pairs harvested from publisher so far."""
    rows = session.execute(
        select(HarvestedVersion.dataset, HarvestedVersion.version).where(
            HarvestedVersion.publisher == publisher
        )
    )
    return {(dataset, version) for dataset, version in rows}


def _status(session: Session, publisher: str, dataset: str) -> HarvestStatus:
    status = session.get(HarvestStatus, (publisher, dataset))
    if status is None:
        status = HarvestStatus(publisher=publisher, dataset=dataset)
        session.add(status)
    return status


def record_version(
    session: Session, publisher: str, listed: Listed, package: dict[str, Any], now: datetime
) -> None:
    """Keep a version harvested now, and make it the dataset's current one."""
    version = HarvestedVersion(
        publisher=publisher,
        dataset=listed.name,
        version=listed.version,
        package=json.dumps(package, separators=(",", ":")),
        content_digest=listed.content_digest,
        harvested_at=now,
    )
    session.add(version)
    session.flush()
    status = _status(session, publisher, listed.name)
    status.current_id = version.id
    status.last_harvested_at = now


def record_harvested(session: Session, publisher: str, dataset: str, now: datetime) -> None:
    """The list or the dataset was harvested now and had nothing new (or was read whole)."""
    _status(session, publisher, dataset).last_harvested_at = now


def record_failure(session: Session, publisher: str, dataset: str, why: str, now: datetime) -> None:
    """The list or the dataset could not be harvested now, for why; what was kept stays."""
    status = _status(session, publisher, dataset)
    status.last_failure_at = now
    status.last_failure = why[:MAX_FAILURE_CHARS]


def statuses(session: Session) -> list[Status]:
    """The harvest status of every member's list and dataset, by publisher and dataset."""
    rows = session.execute(
        select(HarvestStatus, HarvestedVersion.version)
        .outerjoin(HarvestedVersion, HarvestedVersion.id == HarvestStatus.current_id)
        .order_by(HarvestStatus.publisher, HarvestStatus.dataset)
    )
    return [
        Status(
            s.publisher,
            s.dataset,
            version,
            s.last_harvested_at,
            s.last_failure_at,
            s.last_failure,
        )
        for s, version in rows
    ]


def current_package(session: Session, publisher: str, dataset: str) -> dict[str, Any] | None:
    """The package of the dataset's current version, or None when none was harvested."""
    package = session.scalar(
        select(HarvestedVersion.package)
        .join(HarvestStatus, HarvestStatus.current_id == HarvestedVersion.id)
        .where(HarvestStatus.publisher == publisher, HarvestStatus.dataset == dataset)
    )
    return None if package is None else json.loads(package)


@dataclass(frozen=True)
class Current:
    """A dataset's current version: its package, and when it was first and last harvested."""

    publisher: str
    dataset: str
    version: str
    package: dict[str, Any]
    first_harvested_at: datetime
    harvested_at: datetime


def catalogue_key(session: Session) -> tuple[int, int, int]:
    """What changes whenever a dataset's current version does (to rebuild a kept catalogue)."""
    newest = session.scalar(select(func.max(HarvestedVersion.id))) or 0
    count, total = session.execute(
        select(func.count(HarvestStatus.current_id), func.sum(HarvestStatus.current_id))
    ).one()
    return int(newest), int(count or 0), int(total or 0)


def current_datasets(session: Session) -> list[Current]:
    """Every dataset's current version, by publisher and dataset."""
    first = (
        select(
            HarvestedVersion.publisher,
            HarvestedVersion.dataset,
            func.min(HarvestedVersion.harvested_at).label("first"),
        )
        .group_by(HarvestedVersion.publisher, HarvestedVersion.dataset)
        .subquery()
    )
    rows = session.execute(
        select(HarvestedVersion, first.c.first)
        .join(HarvestStatus, HarvestStatus.current_id == HarvestedVersion.id)
        .join(
            first,
            (first.c.publisher == HarvestedVersion.publisher)
            & (first.c.dataset == HarvestedVersion.dataset),
        )
        .order_by(HarvestedVersion.publisher, HarvestedVersion.dataset)
    )
    return [
        Current(
            v.publisher,
            v.dataset,
            v.version,
            json.loads(v.package),
            first_at if first_at.tzinfo else first_at.replace(tzinfo=UTC),
            v.harvested_at,
        )
        for v, first_at in rows
    ]


class Shelf:
    """The catalogue a worker keeps, rebuilt when a dataset's current version changes."""

    def __init__(self, node: NodeRuntime) -> None:
        self.node = node
        self._key: tuple[int, int, int] | None = None
        self._catalogue = Catalogue()

    def catalogue(self) -> Catalogue:
        """The catalogue as the database has it now (called in a worker thread)."""
        with self.node.sessions.begin() as session:
            key = catalogue_key(session)
            if key != self._key:
                names = {m.id: m.name for m in self.node.keeper.current().members}
                self._catalogue = Catalogue.of(
                    (
                        Harvested(
                            c.publisher,
                            names.get(c.publisher, c.publisher),
                            c.dataset,
                            c.package,
                            c.first_harvested_at,
                            c.harvested_at,
                        )
                        for c in current_datasets(session)
                    ),
                    self.node.settings.node.base_url.rstrip("/"),
                )
                self._key = key
        return self._catalogue
