"""A SELECT on the driver's cursor gives what SQLAlchemy gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
)

from digitalstate.storage.driver import DriverQuery
from digitalstate.storage.types import UtcDateTime

METADATA = MetaData()
THINGS = Table(
    "driver_query_things",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("body", Text),
    Column("flag", Boolean),
    Column("count", Integer),
    Column("at", UtcDateTime()),
    Column("gone_at", UtcDateTime(), nullable=True),
)
QUERY = select(THINGS.c.body, THINGS.c.flag, THINGS.c.count, THINGS.c.at, THINGS.c.gone_at).where(
    THINGS.c.id == bindparam("id"), THINGS.c.count >= bindparam("least")
)
AT = datetime(2026, 12, 5, 20, 0, 1, 250_000, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture
def things(engine: Engine) -> Iterator[Engine]:
    METADATA.create_all(engine)
    with engine.begin() as db:
        db.execute(
            THINGS.insert(),
            [
                {"id": "a", "body": '{"x": "ü"}', "flag": True, "count": 3, "at": AT},
                {"id": "b", "body": "", "flag": False, "count": 0, "at": AT, "gone_at": AT},
            ],
        )
    yield engine
    METADATA.drop_all(engine)  # the database goes back to the pool as it came


@pytest.mark.parametrize(
    "params", [{"id": "a", "least": 1}, {"id": "b", "least": 0}, {"id": "b", "least": 1}]
)
def test_a_driver_query_gives_the_values_sqlalchemy_gives(
    things: Engine, params: dict[str, object]
) -> None:
    query = DriverQuery(QUERY)
    with things.connect() as db:
        expected = db.execute(QUERY, params).first()
        got = query.first(db, params)
        again = query.first(db, params)  # the compiled plan, kept
    assert got == again == (None if expected is None else tuple(expected))
    if got is not None:
        assert got[3] == AT and got[3].tzinfo is UTC
        assert isinstance(got[1], bool)
