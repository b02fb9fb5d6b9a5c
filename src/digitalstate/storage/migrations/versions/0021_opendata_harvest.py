"""open data harvest: every version of every dataset the portal harvested from a member (its
package), and how the harvest of each member's list and each dataset last went (issue 13)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opendata_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publisher", sa.String(length=63), nullable=False),
        sa.Column("dataset", sa.String(length=63), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("harvested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_versions")),
        sa.UniqueConstraint(
            "publisher", "dataset", "version", name=op.f("uq_opendata_versions_publisher")
        ),
    )
    op.create_table(
        "opendata_harvests",
        sa.Column("publisher", sa.String(length=63), nullable=False),
        sa.Column("dataset", sa.String(length=63), nullable=False),
        sa.Column("current_id", sa.Integer(), nullable=True),
        sa.Column("last_harvested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["current_id"],
            ["opendata_versions.id"],
            name=op.f("fk_opendata_harvests_current_id_opendata_versions"),
        ),
        sa.PrimaryKeyConstraint("publisher", "dataset", name=op.f("pk_opendata_harvests")),
    )


def downgrade() -> None:
    op.drop_table("opendata_harvests")
    op.drop_table("opendata_versions")
