"""UtcDateTime: aware in, aware UTC out, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.storage.engine import make_engine
from digitalstate.storage.types import UtcDateTime
from digitalstate.web.models import WebSession

MOMENT = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
ELSEWHERE = timezone(timedelta(hours=-5, minutes=-30))

_metadata = MetaData()
_moments = Table(
    "utc_moments",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=True),
)


@pytest.fixture
def moments(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh database holding only the utc_moments table."""
    engine = make_engine(database_url)
    _metadata.create_all(engine)
    try:
        yield engine
    finally:
        _metadata.drop_all(engine)
        engine.dispose()


def _read(engine: Engine, row_id: int) -> datetime | None:
    with engine.connect() as connection:
        return connection.execute(select(_moments.c.at).where(_moments.c.id == row_id)).scalar()


def test_a_utc_moment_comes_back_aware_and_utc(moments: Engine) -> None:
    with moments.begin() as connection:
        connection.execute(insert(_moments), {"id": 1, "at": MOMENT})
    back = _read(moments, 1)
    assert back == MOMENT
    assert back is not None and back.tzinfo is UTC


def test_an_offset_moment_is_stored_as_the_same_instant_in_utc(moments: Engine) -> None:
    with moments.begin() as connection:
        connection.execute(insert(_moments), {"id": 1, "at": MOMENT.astimezone(ELSEWHERE)})
    back = _read(moments, 1)
    assert back == MOMENT
    assert back is not None and back.tzinfo is UTC and back.hour == MOMENT.hour


def test_none_stays_none(moments: Engine) -> None:
    with moments.begin() as connection:
        connection.execute(insert(_moments), {"id": 1, "at": None})
    assert _read(moments, 1) is None


def test_a_naive_datetime_is_refused(moments: Engine) -> None:
    with pytest.raises(StatementError, match="UTC offset"), moments.begin() as connection:
        connection.execute(insert(_moments), {"id": 1, "at": MOMENT.replace(tzinfo=None)})


def test_comparisons_use_the_instant_whatever_the_offset(moments: Engine) -> None:
    with moments.begin() as connection:
        connection.execute(
            insert(_moments),
            [{"id": 1, "at": MOMENT - timedelta(seconds=1)}, {"id": 2, "at": MOMENT}],
        )
    with moments.connect() as connection:
        later = connection.execute(
            select(_moments.c.id).where(_moments.c.at >= MOMENT.astimezone(ELSEWHERE))
        ).scalars()
        assert list(later) == [2]


def test_the_session_time_zone_does_not_leak_out(moments: Engine) -> None:
    if moments.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL converts to a session time zone")
    with moments.begin() as connection:
        connection.execute(insert(_moments), {"id": 1, "at": MOMENT})
    with moments.connect() as connection:
        connection.execute(text("SET TIME ZONE 'America/St_Johns'"))
        back = connection.execute(select(_moments.c.at)).scalar()
        connection.rollback()
    assert back == MOMENT
    assert back is not None and back.tzinfo is UTC


def test_a_model_column_round_trips_aware_utc(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(
            WebSession(
                id_hash="0" * 64,
                kind="person",
                subject="p-1",
                created_at=MOMENT.astimezone(ELSEWHERE),
                last_seen_at=MOMENT,
            )
        )
    with sessions() as session:
        row = session.get(WebSession, "0" * 64)
        assert row is not None
        assert (row.created_at, row.last_seen_at) == (MOMENT, MOMENT)
        assert row.created_at.tzinfo is UTC and row.revoked_at is None
