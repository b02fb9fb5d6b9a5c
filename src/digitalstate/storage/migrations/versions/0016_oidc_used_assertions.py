"""oidc used assertions: the jti of each client assertion used at the token endpoint, kept in
the database so that every worker of the charter refuses it a second time; one live code per
client and nonce, held by a unique key on the nonce's SHA-256 (issue 11)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 19:50:00.000000
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


CODES = sa.table(
    "oidc_codes",
    sa.column("code", sa.String()),
    sa.column("client_id", sa.String()),
    sa.column("nonce", sa.Text()),
    sa.column("nonce_hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("oidc_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nonce_hash", sa.String(length=64), nullable=True))
    # Codes live 60 s and are purged an hour after: few rows. Of two codes of one client with
    # one nonce (made at the same moment before this key), the first by code is kept.
    connection = op.get_bind()
    kept: set[tuple[str, str]] = set()
    rows = connection.execute(
        sa.select(CODES.c.code, CODES.c.client_id, CODES.c.nonce).order_by(CODES.c.code)
    ).all()
    for code, client_id, nonce in rows:
        digest = hashlib.sha256(nonce.encode()).hexdigest()
        if (client_id, digest) in kept:
            connection.execute(sa.delete(CODES).where(CODES.c.code == code))
            continue
        kept.add((client_id, digest))
        connection.execute(sa.update(CODES).where(CODES.c.code == code).values(nonce_hash=digest))
    with op.batch_alter_table("oidc_codes", schema=None) as batch_op:
        batch_op.alter_column("nonce_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            "uq_oidc_codes_client_id_nonce_hash", ["client_id", "nonce_hash"]
        )
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
    with op.batch_alter_table("oidc_codes", schema=None) as batch_op:
        batch_op.drop_constraint("uq_oidc_codes_client_id_nonce_hash", type_="unique")
        batch_op.drop_column("nonce_hash")
