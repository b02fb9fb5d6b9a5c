"""prisons: the prisons' register of prisoners, their visit slots and the visits booked in them
(book a prison visit, docs/services.md)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prisons",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prisons")),
    )
    op.create_table(
        "prisoners",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prison_number", sa.String(length=7), nullable=False),
        sa.Column("given_names", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("prison_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["prison_id"], ["prisons.id"], name=op.f("fk_prisoners_prison_id_prisons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prisoners")),
        sa.UniqueConstraint("prison_number", name=op.f("uq_prisoners_prison_number")),
    )
    with op.batch_alter_table("prisoners", schema=None) as batch_op:
        batch_op.create_index("ix_prisoners_prison_id", ["prison_id"], unique=False)
    op.create_table(
        "visit_slots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prison_id", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "booked >= 0 AND booked <= capacity", name=op.f("ck_visit_slots_places")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_visit_slots_times")),
        sa.ForeignKeyConstraint(
            ["prison_id"], ["prisons.id"], name=op.f("fk_visit_slots_prison_id_prisons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_slots")),
        sa.UniqueConstraint("prison_id", "starts_at", name=op.f("uq_visit_slots_prison_id")),
    )
    op.create_table(
        "visit_bookings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("application_reference", sa.String(length=20), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('confirmed', 'cancelled')", name=op.f("ck_visit_bookings_status")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["visit_slots.id"], name=op.f("fk_visit_bookings_slot_id_visit_slots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_bookings")),
        sa.UniqueConstraint(
            "application_reference", name=op.f("uq_visit_bookings_application_reference")
        ),
    )
    with op.batch_alter_table("visit_bookings", schema=None) as batch_op:
        batch_op.create_index("ix_visit_bookings_slot_id", ["slot_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("visit_bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_bookings_slot_id")
    op.drop_table("visit_bookings")
    op.drop_table("visit_slots")
    with op.batch_alter_table("prisoners", schema=None) as batch_op:
        batch_op.drop_index("ix_prisoners_prison_id")
    op.drop_table("prisoners")
    op.drop_table("prisons")
