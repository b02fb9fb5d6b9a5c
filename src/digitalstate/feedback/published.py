"""What the public reads of stories: published ones only, and only their public text.

Every page, the feed, the API and the datasets read through here. A PublicStory is built from
a *published* row's public columns in one place (_public), never from what a teller wrote
(docs/adr/0026). Counts of a node's, a member's and a service's published stories come from
the counts publishing keeps (story_counts) when nothing else narrows the list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from digitalstate.feedback.domain import DatasetResponse, PublicResponse, PublicStory
from digitalstate.feedback.models import Story, StoryCount, StoryResponse, StoryTag

MAX_PAGE = 10_000


def grouped_counts(db: Session, query: Select[str, int]) -> dict[str, int]:
    """A grouped count's rows as {key: count}."""
    return {str(key): int(count) for key, count in db.execute(query)}


def _counted(db: Session, filters: StoryFilters) -> int | None:
    """The kept count of published stories for filters, or None when filters narrow the list
    further than the counts do (a tag, dates, a change, or both node and service)."""
    if filters.tag or filters.since or filters.until or filters.change:
        return None
    if filters.node is not None and filters.service is not None:
        return None
    scope, key = (
        ("service", filters.service)
        if filters.service is not None
        else ("node", filters.node)
        if filters.node is not None
        else ("all", "")
    )
    found = db.scalar(
        select(StoryCount.published).where(StoryCount.scope == scope, StoryCount.key == key)
    )
    return int(found or 0)


def response_view(row: StoryResponse) -> PublicResponse:
    """A response row as anyone may read it."""
    return PublicResponse(row.role, row.body, row.change, row.at)


def _public(row: Story, responses: Sequence[StoryResponse] = (), count: int = 0) -> PublicStory:
    assert row.status == "published" and row.public_title is not None
    assert row.public_body is not None and row.published_at is not None
    # public_tags, never tags: the tags as told are a moderator's to read once edited.
    return PublicStory(
        row.id,
        row.node,
        row.service,
        row.public_title,
        row.public_body,
        tuple(json.loads(row.public_tags or "[]")),
        row.change,
        row.published_at,
        tuple(response_view(r) for r in responses),
        count or len(responses),
    )


def responses_of(db: Session, story_id: str) -> list[StoryResponse]:
    return list(
        db.scalars(
            select(StoryResponse)
            .where(StoryResponse.story_id == story_id)
            .order_by(StoryResponse.at, StoryResponse.id)
        )
    )


def published_story(db: Session, story_id: str) -> PublicStory | None:
    """A published story with its responses; None when there is none or it is not published."""
    story = db.get(Story, story_id)
    if story is None or story.status != "published":
        return None
    return _public(story, responses_of(db, story_id))


@dataclass(frozen=True)
class StoryFilters:
    """What a list of published stories is narrowed to (each None: any)."""

    node: str | None = None
    service: str | None = None
    tag: str | None = None
    since: datetime | None = None  # published at or after
    until: datetime | None = None  # published before
    change: str | None = None
    page: int = 1

    def on_page(self, page: int) -> StoryFilters:
        """The same filters on another page."""
        return replace(self, page=page)


@dataclass(frozen=True)
class StoryPage:
    """A page of published stories, newest first."""

    rows: list[PublicStory]
    total: int
    page: int
    last: int


def _where(filters: StoryFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Story.status == "published"]
    if filters.node is not None:
        where.append(Story.node == filters.node)
    if filters.service is not None:
        where.append(Story.service == filters.service)
    if filters.tag is not None:
        tagged = select(StoryTag.story_id).where(StoryTag.tag == filters.tag)
        where.append(Story.id.in_(tagged))
    if filters.since is not None:
        where.append(Story.published_at >= filters.since)
    if filters.until is not None:
        where.append(Story.published_at < filters.until)
    if filters.change is not None:
        where.append(Story.change == filters.change)
    return where


def published_page(db: Session, filters: StoryFilters, size: int) -> StoryPage:
    """A page of published stories matching filters, newest first, with response counts."""
    where = _where(filters)
    total = _counted(db, filters)
    if total is None:
        total = int(db.scalar(select(func.count()).select_from(Story).where(*where)) or 0)
    last = max(1, -(-total // size))
    page = min(max(1, filters.page), last)
    rows = list(
        db.scalars(
            select(Story)
            .where(*where)
            .order_by(Story.published_at.desc(), Story.id.desc())
            .offset((page - 1) * size)
            .limit(size)
        )
    )
    counts: dict[str, int] = {}
    if rows:
        counts = grouped_counts(
            db,
            select(StoryResponse.story_id, func.count())
            .where(StoryResponse.story_id.in_([r.id for r in rows]))
            .group_by(StoryResponse.story_id),
        )
    return StoryPage([_public(r, count=counts.get(r.id, 0)) for r in rows], total, page, last)


def change_counts(
    db: Session, *, node: str | None = None, service: str | None = None
) -> dict[str, int]:
    """How many published stories led to a change planned and a change made."""
    filters = StoryFilters(node=node, service=service)
    changed = Story.change.in_(("planned", "made"))  # the index's leading column
    query = select(Story.change, func.count()).where(changed, *_where(filters))
    found = grouped_counts(db, query.group_by(Story.change))
    return {"planned": int(found.get("planned", 0)), "made": int(found.get("made", 0))}


def all_published(db: Session) -> list[PublicStory]:
    """Every published story, oldest first (the datasets)."""
    rows = db.scalars(
        select(Story).where(Story.status == "published").order_by(Story.published_at, Story.id)
    )
    counts = grouped_counts(
        db, select(StoryResponse.story_id, func.count()).group_by(StoryResponse.story_id)
    )
    return [_public(r, count=counts.get(r.id, 0)) for r in rows]


def all_responses(db: Session) -> list[DatasetResponse]:
    """Every response to a published story, oldest first (the datasets)."""
    rows = db.scalars(
        select(StoryResponse)
        .join(Story, Story.id == StoryResponse.story_id)
        .where(Story.status == "published")
        .order_by(StoryResponse.at, StoryResponse.id)
    )
    return [DatasetResponse(r.story_id, response_view(r)) for r in rows]
