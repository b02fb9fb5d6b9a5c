"""sign-in attempts, to lock an account or a client after repeated failures

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_sign_in_attempts_account_at", ["account", "at"], unique=False)
        batch_op.create_index("ix_sign_in_attempts_at", ["at"], unique=False)
        batch_op.create_index("ix_sign_in_attempts_client_at", ["client", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempts_client_at")
        batch_op.drop_index("ix_sign_in_attempts_at")
        batch_op.drop_index("ix_sign_in_attempts_account_at")
    op.drop_table("sign_in_attempts")
