"""Alembic environment: runs migrations on the engine handed over by storage.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from digitalstate.storage.base import Base, load_models

load_models()
engine: Engine = context.config.attributes["engine"]
# The connection that holds the migration lock, when storage.migrate gives one: the migrations
# run on it, in one transaction, rather than on another connection of the engine's pool.
given: Connection | None = context.config.attributes.get("connection")


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


if given is None:
    with engine.begin() as connection:
        run_migrations(connection)
else:
    with given.begin():
        run_migrations(given)
