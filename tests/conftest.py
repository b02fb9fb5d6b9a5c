"""Fixtures every test layer shares: a database on SQLite and on PostgreSQL, each test isolated.

`database_url` runs a test twice: once on a fresh SQLite file in the test's tmp_path, once on
the PostgreSQL named by DIGITALSTATE_TEST_POSTGRES_URL (default the CI one) in a fresh schema
of its own, dropped afterwards. Tests may run migrations and commit: nothing leaks between
them. When PostgreSQL cannot be reached the PostgreSQL runs are skipped, saying why, except
in CI (CI=true), where they fail: CI must never go green without the production database.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.storage import migrate
from digitalstate.storage.engine import make_engine, make_sessions

POSTGRES_ENV = "DIGITALSTATE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    """The PostgreSQL the suite runs against, as a libpq URL."""
    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@functools.cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers (asked once per run)."""
    url = postgres_base_url()
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        shown = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL at {shown} is unreachable ({first_line}); set {POSTGRES_ENV}"
    return None


def _require_postgres() -> None:
    reason = postgres_unreachable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(reason)


def _postgres_schema_url() -> Iterator[str]:
    """A URL whose connections work in a fresh schema; the schema is dropped afterwards."""
    _require_postgres()
    base = postgres_base_url()
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            # A connection a test left inside a transaction must not hang the run here.
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database: a fresh SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        # Outside tmp_path, so that tests creating node or anchor directories there see only
        # their own files.
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    yield from _postgres_schema_url()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on database_url with every migration applied."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on engine; tests own their transactions (with sessions.begin())."""
    return make_sessions(engine)
