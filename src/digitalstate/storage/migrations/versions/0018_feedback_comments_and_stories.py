"""feedback comments and stories: comments left with a satisfaction answer, stories told and
moderated (what was told kept apart from what is published), their tags and public
responses, how many are published (per node, member and service), staff's subscriptions,
and each client's recent submissions (issue 12)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 22:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("journey", sa.String(length=64), nullable=True),
        sa.Column("end", sa.String(length=16), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_feedback_comments_rating")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_comments")),
    )
    op.create_index(
        "ix_feedback_comments_service_at", "feedback_comments", ["service", "at"], unique=False
    )
    op.create_table(
        "feedback_submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_submissions")),
    )
    op.create_index(
        "ix_feedback_submissions_client_at",
        "feedback_submissions",
        ["client", "at"],
        unique=False,
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("node", sa.String(length=63), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("public_title", sa.String(length=200), nullable=True),
        sa.Column("public_body", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("deidentified", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("change IN ('none', 'planned', 'made')", name=op.f("ck_stories_change")),
        sa.CheckConstraint(
            "status IN ('held', 'published', 'rejected')", name=op.f("ck_stories_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    op.create_index(
        "ix_stories_node_status_published_at",
        "stories",
        ["node", "status", "published_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_stories_service_status_published_at",
        "stories",
        ["service", "status", "published_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_stories_status_published_at",
        "stories",
        ["status", "published_at", "id"],
        unique=False,
    )
    op.create_index("ix_stories_status_told_at", "stories", ["status", "told_at"], unique=False)
    op.create_index(
        "ix_stories_change_status_node_service",
        "stories",
        ["change", "status", "node", "service"],
        unique=False,
    )
    op.create_table(
        "story_counts",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_story_counts")),
    )
    op.create_table(
        "story_subscriptions",
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("staff_id", "service", name=op.f("pk_story_subscriptions")),
    )
    op.create_table(
        "story_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("story_id", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "change IN ('none', 'planned', 'made')", name=op.f("ck_story_responses_change")
        ),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_story_responses_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_responses")),
    )
    op.create_index(
        op.f("ix_story_responses_story_id"), "story_responses", ["story_id"], unique=False
    )
    op.create_table(
        "story_tags",
        sa.Column("story_id", sa.String(length=16), nullable=False),
        sa.Column("tag", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["story_id"],
            ["stories.id"],
            name=op.f("fk_story_tags_story_id_stories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("story_id", "tag", name=op.f("pk_story_tags")),
    )
    op.create_index("ix_story_tags_tag", "story_tags", ["tag"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_story_tags_tag", table_name="story_tags")
    op.drop_table("story_tags")
    op.drop_index(op.f("ix_story_responses_story_id"), table_name="story_responses")
    op.drop_table("story_responses")
    op.drop_table("story_subscriptions")
    op.drop_table("story_counts")
    for name in (
        "ix_stories_change_status_node_service",
        "ix_stories_status_told_at",
        "ix_stories_status_published_at",
        "ix_stories_service_status_published_at",
        "ix_stories_node_status_published_at",
    ):
        op.drop_index(name, table_name="stories")
    op.drop_table("stories")
    op.drop_index("ix_feedback_submissions_client_at", table_name="feedback_submissions")
    op.drop_table("feedback_submissions")
    op.drop_index("ix_feedback_comments_service_at", table_name="feedback_comments")
    op.drop_table("feedback_comments")
