"""Publishing a node's datasets: their rows read from the features that keep them, their
versions recorded, their Data Packages made (publishing/domain.py).

A feature publishes a dataset by adding a PublishedDataset to `node.datasets` when it is
installed: the dataset's description and a function that reads its rows in a transaction.
What is published is read at most once every `[publishing] refresh_seconds` per worker (a
dataset's rows are whole tables: reading them at every request would cost what a download
does); a version is recorded the first time its content is published, by whichever worker
publishes it first.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.publishing.domain import (
    LICENCES,
    Content,
    DatasetSpec,
    Publisher,
    Row,
    Version,
    data_package,
    next_version,
    tabulate,
)
from digitalstate.publishing.models import DatasetVersion

DATASETS_PATH = "/datasets"  # where a node publishes them (publishing/api.py, pages.py)
ReadRows = Callable[[Session], Mapping[str, Iterable[Row]]]


@dataclass(frozen=True)
class PublishedDataset:
    """A dataset a feature publishes: its description, and how to read its rows (resource name
    -> rows, each row the resource's fields in order) in the caller's transaction."""

    spec: DatasetSpec
    read: ReadRows


@dataclass(frozen=True)
class Published:
    """A dataset as published now: its content and its current version."""

    spec: DatasetSpec
    content: Content
    version: Version

    @property
    def listed(self) -> bool:
        """Whether the node lists it: a dataset with no rows at all is not published yet."""
        return any(t.rows for t in self.content.tables)


def read_content(session: Session, dataset: PublishedDataset) -> Content:
    """The dataset's rows, every resource's, as published."""
    rows = dataset.read(session)
    tables = tuple(tabulate(spec, rows.get(spec.name, ())) for spec in dataset.spec.resources)
    return Content(dataset.spec, tables)


def versions_of(session: Session, name: str) -> list[Version]:
    """Every version of the dataset the node recorded, oldest first."""
    rows = session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.dataset == name)
        .order_by(DatasetVersion.major, DatasetVersion.minor)
    )
    return [_version(row) for row in rows]


def latest_version(session: Session, name: str) -> Version | None:
    """The newest version of the dataset recorded, or None."""
    row = session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.dataset == name)
        .order_by(DatasetVersion.major.desc(), DatasetVersion.minor.desc())
        .limit(1)
    ).first()
    return None if row is None else _version(row)


def record_version(session: Session, name: str, version: Version) -> None:
    """Record a new version of the dataset in the caller's transaction."""
    session.add(
        DatasetVersion(
            dataset=name,
            major=version.major,
            minor=version.minor,
            schema_digest=version.schema_digest,
            content_digest=version.content_digest,
            rows=json.dumps(dict(version.rows), sort_keys=True),
            created_at=version.created_at,
        )
    )


def publish(sessions: sessionmaker[Session], dataset: PublishedDataset, now: datetime) -> Published:
    """The dataset as published now, recording a new version when its content is new.

    Of two workers recording the same new version at once, one does and the other reads it.
    """
    with sessions.begin() as session:
        content = read_content(session, dataset)
        latest = latest_version(session, dataset.spec.name)
    made = next_version(latest, dataset.spec, content, now)
    if made is None:
        assert latest is not None
        return Published(dataset.spec, content, latest)
    try:
        with sessions.begin() as session:
            record_version(session, dataset.spec.name, made)
        return Published(dataset.spec, content, made)
    except IntegrityError:
        with sessions.begin() as session:
            found = latest_version(session, dataset.spec.name)
        assert found is not None
        return Published(dataset.spec, content, found)


class Shelf:
    """What a worker publishes: each dataset read again at most every refresh seconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        datasets: Mapping[str, PublishedDataset],
        publisher: Publisher,
        *,
        refresh: float,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.datasets = datasets
        self.publisher = publisher
        self.refresh = refresh
        self.clock = clock
        self.monotonic = monotonic
        self._kept: dict[str, tuple[float, Published]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Published | None:
        """The dataset as published now (read again when older than refresh), or None if the
        node publishes no dataset of that name or it has no rows yet."""
        dataset = self.datasets.get(name)
        if dataset is None:
            return None
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and self.monotonic() - kept[0] < self.refresh:
            found = kept[1]
        else:
            found = publish(self.sessions, dataset, self.clock())
            with self._lock:
                self._kept[name] = (self.monotonic(), found)
        return found if found.listed else None

    def found(self, name: str) -> Published:
        """The published dataset of that name, or the not-found problem."""
        published = self.get(name[:63])
        if published is None:
            raise Problem("not-found", f"this node publishes no dataset {name[:63]!r}")
        return published

    def all(self) -> list[Published]:
        """Every dataset the node lists, by title."""
        found = [self.get(name) for name in sorted(self.datasets)]
        return sorted((p for p in found if p is not None), key=lambda p: p.spec.title)


def node_shelf(node: NodeRuntime) -> Shelf:
    """A shelf of the node's datasets (node.datasets), published under its settings."""
    settings = node.settings
    publisher = Publisher(
        member_id=settings.node.id,
        name=settings.node.name,
        base_url=settings.node.base_url.rstrip("/"),
        licence=LICENCES[settings.publishing.licence],
    )
    return Shelf(
        node.sessions,
        node.datasets,
        publisher,
        refresh=settings.publishing.refresh_seconds,
        clock=lambda: datetime.now(UTC),
    )


def listing(shelf: Shelf) -> dict[str, Any]:
    """The node's list of datasets: each one's name, title, version and addresses."""
    base = shelf.publisher.base_url
    return {
        "publisher": {"id": shelf.publisher.member_id, "name": shelf.publisher.name},
        "datasets": [
            {
                "name": p.spec.name,
                "title": p.spec.title,
                "description": p.spec.description,
                "version": p.version.number,
                "updated": p.version.created_at.isoformat(),
                "content_sha256": p.version.content_digest,
                "update_frequency": p.spec.update_frequency,
                "datapackage": f"{base}{DATASETS_PATH}/{p.spec.name}/datapackage.json",
                "resources": [t.spec.name for t in p.content.tables],
            }
            for p in shelf.all()
        ],
    }


def package(shelf: Shelf, published: Published) -> dict[str, Any]:
    """The dataset's Data Package, its resources' paths on this node's public address."""
    base = f"{shelf.publisher.base_url}{DATASETS_PATH}/{published.spec.name}"
    return data_package(published.spec, shelf.publisher, published.version, published.content, base)


def _version(row: DatasetVersion) -> Version:
    return Version(
        major=row.major,
        minor=row.minor,
        schema_digest=row.schema_digest,
        content_digest=row.content_digest,
        rows=json.loads(row.rows),
        created_at=row.created_at,
    )
