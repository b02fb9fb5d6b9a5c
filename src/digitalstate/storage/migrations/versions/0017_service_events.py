"""service events: what declared services' journeys record (started, page viewed, answer
error, completed, refused, left, rated) for the figures each node computes and publishes,
and each service's counts by month computed from them (issue 12)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("journey", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("page", sa.String(length=63), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("variant", sa.String(length=63), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('started', 'page', 'answer_error', 'completed', 'refused', 'left', 'rated')",
            name=op.f("ck_service_events_kind"),
        ),
        sa.CheckConstraint(
            "channel IN ('digital', 'assisted')", name=op.f("ck_service_events_channel")
        ),
        sa.CheckConstraint(
            "value IS NULL OR (value >= 1 AND value <= 5)", name=op.f("ck_service_events_value")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_events")),
    )
    with op.batch_alter_table("service_events", schema=None) as batch_op:
        batch_op.create_index("ix_service_events_journey", ["journey"], unique=False)
        batch_op.create_index("ix_service_events_service_at", ["service", "at"], unique=False)
    counts = [
        sa.Column(name, sa.Integer(), nullable=False)
        for name in (
            "started",
            "started_completed",
            "completed_digital",
            "completed_assisted",
            "refused",
            "left",
            "rated_1",
            "rated_2",
            "rated_3",
            "rated_4",
            "rated_5",
        )
    ]
    op.create_table(
        "service_months",
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *counts,
        sa.Column("median_ms", sa.Integer(), nullable=True),
        sa.Column("p90_ms", sa.Integer(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("service", "month", name=op.f("pk_service_months")),
    )
    op.create_table(
        "service_gave_up",
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("page", sa.String(length=63), nullable=False),
        sa.Column("journeys", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("service", "month", "page", name=op.f("pk_service_gave_up")),
    )


def downgrade() -> None:
    op.drop_table("service_gave_up")
    op.drop_table("service_months")
    with op.batch_alter_table("service_events", schema=None) as batch_op:
        batch_op.drop_index("ix_service_events_service_at")
        batch_op.drop_index("ix_service_events_journey")
    op.drop_table("service_events")
