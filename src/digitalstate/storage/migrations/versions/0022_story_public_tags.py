"""stories' public tags: the tags a story is published with, kept apart from those it was told
with, so that a moderator de-identifying a story can edit its tags as its text (the told ones
never public)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("public_tags", sa.Text(), nullable=True))
    # Every story published so far was published with the tags it was told with.
    op.execute("UPDATE stories SET public_tags = tags WHERE status = 'published'")


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("public_tags")
