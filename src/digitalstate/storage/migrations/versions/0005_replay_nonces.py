"""replay nonces: accepted (key id, nonce) pairs kept in the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 07:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_nonces",
        sa.Column("keyid", sa.String(length=63), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("keyid", "nonce", name=op.f("pk_exchange_nonces")),
    )
    with op.batch_alter_table("exchange_nonces", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_nonces_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exchange_nonces", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_nonces_expires_at")
    op.drop_table("exchange_nonces")
