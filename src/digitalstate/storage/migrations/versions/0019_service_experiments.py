"""service experiments: where each experiment a declared service runs stands, running or
stopped with the winning variant everyone sees from then on (issue 12)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 22:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_experiments",
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("experiment", sa.String(length=31), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("winner", sa.String(length=31), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=36), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'stopped')", name=op.f("ck_service_experiments_state")
        ),
        sa.CheckConstraint(
            "state = 'running' OR winner IS NOT NULL", name=op.f("ck_service_experiments_winner")
        ),
        sa.PrimaryKeyConstraint("service", "experiment", name=op.f("pk_service_experiments")),
    )


def downgrade() -> None:
    op.drop_table("service_experiments")
