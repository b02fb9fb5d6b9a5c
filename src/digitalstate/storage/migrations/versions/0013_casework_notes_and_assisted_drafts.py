"""casework: staff notes on applications, and drafts a member of staff holds (assisted digital)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_by", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_service_drafts_held_by", ["held_by"], unique=False)
    op.create_table(
        "application_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "length(text) BETWEEN 1 AND 5000", name=op.f("ck_application_notes_text_length")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_notes_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_accounts.id"],
            name=op.f("fk_application_notes_staff_id_staff_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_notes")),
    )
    with op.batch_alter_table("application_notes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_application_notes_application_id", ["application_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("application_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_application_notes_application_id")
    op.drop_table("application_notes")
    with op.batch_alter_table("service_drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_service_drafts_held_by")
        batch_op.drop_column("held_by")
