"""Use cases of feedback: comments, the flood limit, telling, moderating and answering stories,
subscriptions, and what the public pages, the API and the datasets read.

The caller owns the transaction (``with node.sessions.begin() as db:``); nothing here commits.
Times are aware UTC datetimes passed in as ``now``. What the public reads is built from a
published story's public columns only (PublicStory), never from what its teller wrote.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.orm import Session

from digitalstate.feedback.domain import (
    Change,
    DatasetResponse,
    Flag,
    PublicResponse,
    PublicStory,
    Rules,
    StoryDraft,
    flag_text,
    flags_from_json,
    flags_to_json,
)
from digitalstate.feedback.models import (
    FeedbackComment,
    FeedbackSubmission,
    Story,
    StoryCount,
    StoryResponse,
    StorySubscription,
    StoryTag,
)
from digitalstate.mail.domain import InvalidEmailError
from digitalstate.mail.service import queue_email
from digitalstate.settings import FeedbackSection
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.models import StaffAccount
from digitalstate.storage.engine import dialect_insert

NODE_WIDE = ""
"""The service of a subscription to the stories about the node itself."""
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud or typed
ID_LENGTH = 12
MAX_PAGE = 10_000


def rules_from(section: FeedbackSection) -> Rules:
    """The moderation rules of a node's [feedback] settings."""
    return Rules(
        titles=tuple(section.titles),
        name_patterns=tuple(section.name_patterns),
        abuse_words=tuple(section.abuse_words),
        phone_region=section.phone_region,
    )


def new_story_id() -> str:
    """A story's id: 12 characters of an unambiguous alphabet (about 59 bits)."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def is_story_id(text: str) -> bool:
    """True when text could be a story's id (checked before any query)."""
    return len(text) == ID_LENGTH and all(c in ID_ALPHABET for c in text)


# --- the flood limit ---------------------------------------------------------------------------


def take_submission(
    db: Session, client: str, *, limit: int, window: timedelta, now: datetime
) -> bool:
    """Count one submission from client (identity.throttle.client_key) and True, or False when
    it has sent limit in the window already (nothing counted). Rows in the database, as the
    sign-in throttle's are, so that every worker counts the same (docs/adr/0026)."""
    since = now - window
    db.execute(
        delete(FeedbackSubmission).where(
            FeedbackSubmission.client == client, FeedbackSubmission.at < since
        )
    )
    sent = db.scalar(
        select(func.count()).where(
            FeedbackSubmission.client == client, FeedbackSubmission.at >= since
        )
    )
    if int(sent or 0) >= limit:
        return False
    db.add(FeedbackSubmission(client=client, at=now))
    return True


# --- satisfaction comments ---------------------------------------------------------------------


def save_comment(
    db: Session,
    *,
    service: str,
    journey: str | None,
    end: str,
    rating: int,
    comment: str,
    now: datetime,
) -> None:
    """Keep a comment left with a satisfaction answer (none when it is empty)."""
    if comment:
        db.add(
            FeedbackComment(
                service=service, journey=journey, end=end, rating=rating, comment=comment, at=now
            )
        )


@dataclass(frozen=True)
class Comment:
    """A comment as staff read it."""

    service: str
    end: str
    rating: int
    comment: str
    at: datetime


def recent_comments(db: Session, services: Sequence[str], limit: int = 50) -> list[Comment]:
    """The newest comments on these services."""
    rows = db.scalars(
        select(FeedbackComment)
        .where(FeedbackComment.service.in_(services))
        .order_by(FeedbackComment.at.desc(), FeedbackComment.id.desc())
        .limit(limit)
    )
    return [Comment(r.service, r.end, r.rating, r.comment, r.at) for r in rows]


# --- telling -----------------------------------------------------------------------------------


def tell_story(
    db: Session, draft: StoryDraft, rules: Rules, now: datetime, *, story_id: str | None = None
) -> Story:
    """Keep a story as told, held for moderation with what the rules flag in it (its id new
    unless given: the demo's are the same at every demo)."""
    flags = flag_text(f"{draft.title}\n{draft.body}", rules)
    story = Story(
        id=story_id or new_story_id(),
        node=draft.node,
        service=draft.service,
        title=draft.title,
        body=draft.body,
        tags=json.dumps(list(draft.tags)),
        status="held",
        flags=json.dumps(flags_to_json(flags)),
        deidentified=False,
        change="none",
        told_at=now,
    )
    db.add(story)
    db.flush()
    db.add_all(StoryTag(story_id=story.id, tag=tag) for tag in draft.tags)
    return story


def subscribers(db: Session, service: str | None) -> list[str]:
    """The email addresses of staff (not disabled) subscribed to stories of service (None:
    about the node itself)."""
    rows = db.scalars(
        select(StaffAccount.email)
        .join(StorySubscription, StorySubscription.staff_id == StaffAccount.id)
        .where(
            StorySubscription.service == (service or NODE_WIDE),
            StaffAccount.disabled_at.is_(None),
        )
        .order_by(StaffAccount.email)
    )
    return list(rows)


def alert_subscribers(
    db: Session, story: Story, *, about: str, link: str, node_name: str, now: datetime
) -> int:
    """Queue an email about a new story to each subscriber of its service; how many.

    The email says what the story is about and where to moderate it, never what it says
    (its text is not yet moderated, and email is not the place for personal data)."""
    queued = 0
    for address in subscribers(db, story.service):
        subject = f"A new story about {about} is waiting for moderation"
        body = (
            f"Someone told a story about {about} at {node_name}.\n\n"
            f"It is held until a moderator publishes, de-identifies or rejects it:\n{link}\n\n"
            "You are sent this because you subscribed to stories about it on the staff pages."
        )
        try:
            made = queue_email(
                db, address, subject, body, key=f"story:{story.id}:{address}", now=now
            )
        except InvalidEmailError:
            continue
        queued += made.new
    return queued


def subscriptions_of(db: Session, staff_id: str) -> set[str]:
    """The services (NODE_WIDE for the node itself) staff_id is subscribed to."""
    rows = db.scalars(
        select(StorySubscription.service).where(StorySubscription.staff_id == staff_id)
    )
    return set(rows)


def set_subscriptions(db: Session, staff_id: str, services: Sequence[str]) -> None:
    """Subscribe staff_id to exactly these services (NODE_WIDE for the node itself)."""
    db.execute(delete(StorySubscription).where(StorySubscription.staff_id == staff_id))
    db.add_all(StorySubscription(staff_id=staff_id, service=s) for s in sorted(set(services)))


# --- moderating --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldStory:
    """A story as a moderator sees it: what was told, and what is published, if anything."""

    id: str
    node: str
    service: str | None
    title: str
    body: str
    tags: tuple[str, ...]
    status: str
    flags: tuple[Flag, ...]
    deidentified: bool
    public_title: str | None
    public_body: str | None
    reason: str | None
    change: str
    told_at: datetime
    responses: tuple[PublicResponse, ...] = ()


def held_view(story: Story, responses: Sequence[StoryResponse] = ()) -> HeldStory:
    """A story row as a moderator sees it."""
    return HeldStory(
        story.id,
        story.node,
        story.service,
        story.title,
        story.body,
        tuple(json.loads(story.tags)),
        story.status,
        flags_from_json(json.loads(story.flags)),
        story.deidentified,
        story.public_title,
        story.public_body,
        story.reason,
        story.change,
        story.told_at,
        tuple(response_view(r) for r in responses),
    )


def find_held(db: Session, story_id: str) -> HeldStory | None:
    """One story, whatever its status, for staff."""
    story = db.get(Story, story_id)
    if story is None:
        return None
    return held_view(story, _responses(db, story_id))


@dataclass(frozen=True)
class ModerationPage:
    """A page of the moderation queue, and how many stories each status has."""

    rows: list[HeldStory]
    counts: dict[str, int]
    page: int
    last: int


def moderation_queue(
    db: Session, status: str, page: int, size: int, services: Sequence[str | None] | None = None
) -> ModerationPage:
    """Stories of a status, oldest held first (newest first once moderated), paged."""
    counts = _counts(db, select(Story.status, func.count()).group_by(Story.status))
    order = Story.told_at.asc() if status == "held" else Story.told_at.desc()
    total = counts.get(status, 0)
    last = max(1, -(-total // size))
    page = min(max(1, page), last)
    rows = db.scalars(
        select(Story)
        .where(Story.status == status)
        .order_by(order, Story.id)
        .offset((page - 1) * size)
        .limit(size)
    )
    return ModerationPage([held_view(s) for s in rows], counts, page, last)


def _counts(db: Session, query: Select[str, int]) -> dict[str, int]:
    """A grouped count's rows as {key: count}."""
    return {str(key): int(count) for key, count in db.execute(query)}


def publish_story(
    db: Session, story_id: str, now: datetime, *, title: str | None = None, body: str | None = None
) -> str:
    """Publish a held story: as told, or (title, body given and different) de-identified, the
    original kept and never published. "published", or "unknown" / "not-held"."""
    story = db.get(Story, story_id)
    if story is None:
        return "unknown"
    if story.status != "held":
        return "not-held"
    public_title = story.title if title is None else title
    public_body = story.body if body is None else body
    story.public_title = public_title
    story.public_body = public_body
    story.deidentified = (public_title, public_body) != (story.title, story.body)
    story.status = "published"
    story.moderated_at = story.published_at = now
    count_published(db, story.node, story.service)
    return "published"


def count_published(db: Session, node: str, service: str | None, by: int = 1) -> None:
    """Add by to the published counts of the node's list, of node and of service."""
    insert = dialect_insert(db.get_bind().dialect.name)
    scopes = [("all", ""), ("node", node)] + ([("service", service)] if service else [])
    for scope, key in scopes:
        statement = insert(StoryCount).values(scope=scope, key=key, published=by)
        db.execute(
            statement.on_conflict_do_update(
                index_elements=["scope", "key"],
                set_={"published": StoryCount.published + by},
            )
        )


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


def reject_story(db: Session, story_id: str, reason: str, now: datetime) -> str:
    """Reject a held story with a reason. "rejected", or "unknown" / "not-held"."""
    story = db.get(Story, story_id)
    if story is None:
        return "unknown"
    if story.status != "held":
        return "not-held"
    story.status = "rejected"
    story.reason = reason
    story.moderated_at = now
    return "rejected"


def respond_to_story(
    db: Session, story_id: str, staff: StaffMember, body: str, change: Change, now: datetime
) -> str:
    """Answer a published story in public under staff's role; a response that plans or makes
    a change marks the story so. "answered", or "unknown" / "not-published"."""
    story = db.get(Story, story_id)
    if story is None:
        return "unknown"
    if story.status != "published":
        return "not-published"
    db.add(
        StoryResponse(
            story_id=story_id, role=staff.role, body=body, change=change, staff_id=staff.id, at=now
        )
    )
    if change == "made" or (change == "planned" and story.change == "none"):
        story.change = change
    return "answered"


# --- what the public reads ---------------------------------------------------------------------


def response_view(row: StoryResponse) -> PublicResponse:
    """A response row as anyone may read it."""
    return PublicResponse(row.role, row.body, row.change, row.at)


def _public(row: Story, responses: Sequence[StoryResponse] = (), count: int = 0) -> PublicStory:
    assert row.status == "published" and row.public_title is not None
    assert row.public_body is not None and row.published_at is not None
    return PublicStory(
        row.id,
        row.node,
        row.service,
        row.public_title,
        row.public_body,
        tuple(json.loads(row.tags)),
        row.change,
        row.published_at,
        tuple(response_view(r) for r in responses),
        count or len(responses),
    )


def _responses(db: Session, story_id: str) -> list[StoryResponse]:
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
    return _public(story, _responses(db, story_id))


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
        counts = _counts(
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
    found = _counts(db, query.group_by(Story.change))
    return {"planned": int(found.get("planned", 0)), "made": int(found.get("made", 0))}


def all_published(db: Session) -> list[PublicStory]:
    """Every published story, oldest first (the datasets)."""
    rows = db.scalars(
        select(Story).where(Story.status == "published").order_by(Story.published_at, Story.id)
    )
    counts = _counts(
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
