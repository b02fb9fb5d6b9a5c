"""invite helpers by email: a delegation keeps the email typed; no account means no helper yet

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("helper_email", sa.String(length=320), nullable=True))
    # Every delegation so far names an account: its email is the one the person typed.
    op.execute(
        "UPDATE delegations SET helper_email = "
        "(SELECT people.email FROM people WHERE people.id = delegations.helper_id)"
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.alter_column("helper_email", existing_type=sa.String(length=320), nullable=False)
        batch_op.alter_column("helper_id", existing_type=sa.String(length=36), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_delegations_helper_email"), ["helper_email"], unique=False
        )


def downgrade() -> None:
    # An invitation to an email without an account cannot be kept without helper_email.
    op.execute("DELETE FROM delegations WHERE helper_id IS NULL")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_helper_email"))
        batch_op.alter_column("helper_id", existing_type=sa.String(length=36), nullable=False)
        batch_op.drop_column("helper_email")
