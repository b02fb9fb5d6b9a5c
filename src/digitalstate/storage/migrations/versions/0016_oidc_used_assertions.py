"""oidc used assertions: the jti of each client assertion used at the token endpoint, kept in
the database so that every worker of the charter refuses it a second time (issue 11)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 19:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_used_assertions",
        sa.Column("client_id", sa.String(length=63), nullable=False),
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti_hash", name=op.f("pk_oidc_used_assertions")),
    )
    with op.batch_alter_table("oidc_used_assertions", schema=None) as batch_op:
        batch_op.create_index("ix_oidc_used_assertions_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oidc_used_assertions", schema=None) as batch_op:
        batch_op.drop_index("ix_oidc_used_assertions_expires_at")
    op.drop_table("oidc_used_assertions")
