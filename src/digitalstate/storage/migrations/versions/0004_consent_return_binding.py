"""consent return binding: each way back from the consent screen is used once

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 07:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_consent_returns",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_service_consent_returns")),
    )


def downgrade() -> None:
    op.drop_table("service_consent_returns")
