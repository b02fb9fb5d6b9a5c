"""Tables of feedback: comments left with a satisfaction answer, stories, their tags and
responses, staff's subscriptions, and each client's recent submissions (the flood limit).

A story keeps what its teller wrote (title, body) apart from what is published (public_title,
public_body): public pages, the API and the datasets read only the public columns of a
published story, so an original that a moderator de-identified is never shown
(docs/adr/0026).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digitalstate.storage.base import Base
from digitalstate.storage.types import UtcDateTime


class FeedbackComment(Base):
    """A comment left with a satisfaction answer at the end of a service (the answer itself is
    a `rated` service event)."""

    __tablename__ = "feedback_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(63))
    journey: Mapped[str | None] = mapped_column(String(64), nullable=True)
    end: Mapped[str] = mapped_column(String(16))  # done, refused or left
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        Index("ix_feedback_comments_service_at", "service", "at"),
    )


class Story(Base):
    """A story told about a node or one of its services, held until a moderator acts."""

    __tablename__ = "stories"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # random, in its URL
    node: Mapped[str] = mapped_column(String(63))  # the member it is about
    service: Mapped[str | None] = mapped_column(String(63), nullable=True)
    title: Mapped[str] = mapped_column(String(200))  # as told: never public once de-identified
    body: Mapped[str] = mapped_column(Text)
    public_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    public_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[str] = mapped_column(Text)  # JSON list, as told: never public once edited
    # JSON list, as published (story_tags holds them for filtering): the told tags, or the
    # moderator's when de-identifying changed them.
    public_tags: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # held, published, rejected
    flags: Mapped[str] = mapped_column(Text)  # JSON list of {kind, excerpt}
    deidentified: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it was rejected
    change: Mapped[str] = mapped_column(String(16), default="none")  # none, planned, made
    told_at: Mapped[datetime] = mapped_column(UtcDateTime())
    moderated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('held', 'published', 'rejected')", name="status"),
        CheckConstraint("change IN ('none', 'planned', 'made')", name="change"),
        # The public pages: the newest published first, of the node, of a service. The id
        # ends each, so that the pages' order (published_at, id) is the index's and a page is
        # read from it, never sorted (docs/benchmarks.md).
        Index("ix_stories_status_published_at", "status", "published_at", "id"),
        Index("ix_stories_service_status_published_at", "service", "status", "published_at", "id"),
        Index("ix_stories_node_status_published_at", "node", "status", "published_at", "id"),
        Index("ix_stories_status_told_at", "status", "told_at"),
        # The changes stories led to, counted on every public page: a few in ten stories
        # have one, so the count reads that part of this index only (docs/benchmarks.md).
        Index("ix_stories_change_status_node_service", "change", "status", "node", "service"),
    )


class StoryCount(Base):
    """How many stories are published, of the node's whole list (scope "all", key ""), about a
    member (scope "node") and about a service (scope "service"): kept as each is published,
    so that a public page is not a count of every story (docs/benchmarks.md)."""

    __tablename__ = "story_counts"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(63), primary_key=True)
    published: Mapped[int] = mapped_column(Integer)


class StoryTag(Base):
    """One tag of a story (the API filters by tag through this)."""

    __tablename__ = "story_tags"

    story_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(30), primary_key=True)

    __table_args__ = (Index("ix_story_tags_tag", "tag"),)


class StoryResponse(Base):
    """Staff's public answer to a story, under their role; staff_id is kept, never shown."""

    __tablename__ = "story_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    story_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("stories.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(String(16))  # none, planned, made
    staff_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (CheckConstraint("change IN ('none', 'planned', 'made')", name="change"),)


class StorySubscription(Base):
    """A member of staff who is emailed about new stories of a service ("" the node's own)."""

    __tablename__ = "story_subscriptions"

    staff_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    service: Mapped[str] = mapped_column(String(63), primary_key=True)


class FeedbackSubmission(Base):
    """One submission (an answer or a story) from one client, counted for the flood limit."""

    __tablename__ = "feedback_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_feedback_submissions_client_at", "client", "at"),)
