"""Use cases of feedback: comments, the flood limit, telling, moderating and answering stories,
and subscriptions (what the public reads is published.py's).

The caller owns the transaction (``with node.sessions.begin() as db:``); nothing here commits.
Times are aware UTC datetimes passed in as ``now``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from digitalstate.feedback.domain import (
    Change,
    Flag,
    PublicResponse,
    Rules,
    StoryDraft,
    flag_text,
    flags_from_json,
    flags_to_json,
    formula_flags,
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
from digitalstate.feedback.published import grouped_counts, response_view, responses_of
from digitalstate.mail.domain import InvalidEmailError
from digitalstate.mail.service import queue_email
from digitalstate.settings import FeedbackSection
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.models import StaffAccount
from digitalstate.storage.engine import dialect_insert
from digitalstate.storage.locks import serialise_on

NODE_WIDE = ""
"""The service of a subscription to the stories about the node itself."""
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud or typed
ID_LENGTH = 12


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
    sign-in throttle's are, so that every worker counts the same (docs/adr/0026); one
    transaction of a client at a time, so that a burst sent at once is counted exactly."""
    serialise_on(db, FeedbackSubmission, client)
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
    # The tags are published with the story: the rules look at them as at its text.
    flags = flag_text("\n".join((draft.title, draft.body, *draft.tags)), rules)
    flags += formula_flags(draft.title, draft.body)
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
    public_tags: tuple[str, ...] | None
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
        None if story.public_tags is None else tuple(json.loads(story.public_tags)),
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
    return held_view(story, responses_of(db, story_id))


@dataclass(frozen=True)
class ModerationPage:
    """A page of the moderation queue, and how many stories each status has."""

    rows: list[HeldStory]
    counts: dict[str, int]
    page: int
    last: int


def moderation_queue(db: Session, status: str, page: int, size: int) -> ModerationPage:
    """Stories of a status, oldest held first (newest first once moderated), paged."""
    counts = grouped_counts(db, select(Story.status, func.count()).group_by(Story.status))
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


def publish_story(
    db: Session,
    story_id: str,
    now: datetime,
    *,
    title: str | None = None,
    body: str | None = None,
    tags: Sequence[str] | None = None,
) -> str:
    """Publish a held story: as told, or (title, body, tags given and different) de-identified,
    the original kept and never published. "published", or "unknown" / "not-held"."""
    story = db.get(Story, story_id, with_for_update=True)  # one moderator at a time
    if story is None:
        return "unknown"
    if story.status != "held":
        return "not-held"
    told_tags = tuple(json.loads(story.tags))
    public_title = story.title if title is None else title
    public_body = story.body if body is None else body
    public_tags = told_tags if tags is None else tuple(tags)
    story.public_title = public_title
    story.public_body = public_body
    story.public_tags = json.dumps(list(public_tags))
    told = (story.title, story.body, told_tags)
    story.deidentified = (public_title, public_body, public_tags) != told
    if public_tags != told_tags:  # the filter by tag finds it by what is published only
        db.execute(delete(StoryTag).where(StoryTag.story_id == story_id))
        db.add_all(StoryTag(story_id=story_id, tag=tag) for tag in public_tags)
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


def reject_story(db: Session, story_id: str, reason: str, now: datetime) -> str:
    """Reject a held story with a reason. "rejected", or "unknown" / "not-held"."""
    story = db.get(Story, story_id, with_for_update=True)  # one moderator at a time
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
    story = db.get(Story, story_id, with_for_update=True)  # one moderator at a time
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
