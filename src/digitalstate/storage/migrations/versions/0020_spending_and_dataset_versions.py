"""spending payments and dataset versions: every payment a node imported from a spending file,
under its transaction number, amounts in pence; each version of each dataset the node
published (issue 13)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spending_payments",
        sa.Column("transaction_number", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("expense_type", sa.String(length=255), nullable=False),
        sa.Column("service_area", sa.String(length=255), nullable=False),
        sa.Column("supplier_name", sa.String(length=255), nullable=False),
        sa.Column("supplier_type", sa.String(length=16), nullable=False),
        sa.Column("company_number", sa.String(length=8), nullable=True),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("purchase_category", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "supplier_type IN ('organisation', 'individual')",
            name=op.f("ck_spending_payments_supplier_type_known"),
        ),
        sa.PrimaryKeyConstraint("transaction_number", name=op.f("pk_spending_payments")),
    )
    with op.batch_alter_table("spending_payments", schema=None) as batch_op:
        batch_op.create_index("ix_spending_payments_day", ["day"], unique=False)

    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset", sa.String(length=63), nullable=False),
        sa.Column("major", sa.Integer(), nullable=False),
        sa.Column("minor", sa.Integer(), nullable=False),
        sa.Column("schema_digest", sa.String(length=64), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_versions")),
        sa.UniqueConstraint("dataset", "major", "minor", name=op.f("uq_dataset_versions_dataset")),
    )


def downgrade() -> None:
    op.drop_table("dataset_versions")
    with op.batch_alter_table("spending_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_spending_payments_day")
    op.drop_table("spending_payments")
