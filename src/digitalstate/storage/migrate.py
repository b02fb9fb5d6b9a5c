"""Alembic glue: upgrade a database to the newest schema, report and check revisions."""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to engine, with the package's migration scripts."""
    config = Config()
    config.set_main_option("script_location", "digitalstate.storage:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to revision (default the newest).

    A database already at the newest revision is left as it is after one query: a node checks
    at every start, and Alembic's own path loads and compiles every migration script first.
    """
    if revision == "head" and current_revision(engine) == head_revision():
        return
    command.upgrade(alembic_config(engine), revision)


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
