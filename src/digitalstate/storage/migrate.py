"""Alembic glue: upgrade a database to the newest schema, report and check revisions."""

from __future__ import annotations

import functools
import hashlib

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to engine, with the package's migration scripts."""
    config = Config()
    config.set_main_option("script_location", "digitalstate.storage:migrations")
    config.attributes["engine"] = engine
    return config


# The advisory lock that lets one process at a time upgrade a PostgreSQL database: a node's
# workers all start with upgrade_on_start, and two migrations at once would collide.
MIGRATION_LOCK = int.from_bytes(
    hashlib.sha256(b"digitalstate migrations").digest()[:8], "big", signed=True
)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to revision (default the newest), one process at a time.

    A database already at the newest revision is left as it is after one query: a node checks
    at every start, and Alembic's own path loads and compiles every migration script first.
    """
    if revision == "head" and current_revision(engine) == head_revision():
        return
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)  # SQLite: one writer anyway
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        lock.commit()  # the session lock stays; no transaction stays open while others wait
        try:
            # On the lock's own connection: a second one from the pool would wait for ever
            # on a pool of one ([database] pool_size = 1, max_overflow = 0).
            config = alembic_config(engine)
            config.attributes["connection"] = lock
            command.upgrade(config, revision)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            lock.commit()


def check(engine: Engine) -> None:
    """Raise if the models differ from what the migrations build (alembic check)."""
    command.check(alembic_config(engine))


@functools.cache
def head_revision() -> str | None:
    """The newest revision the package ships (read once: the scripts are part of the package)."""
    script = ScriptDirectory.from_config(_script_config())
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has never been upgraded."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _script_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "digitalstate.storage:migrations")
    return config
