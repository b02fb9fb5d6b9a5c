"""When a signed-in session stops counting: revoked, idle, too old or past its end (with why)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digitalstate.storage.types import UtcDateTime
from digitalstate.web.models import WebSession
from digitalstate.web.session_store import acting_end, hash_session_id, session_refusal

SIGNED_IN = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=8)
ACTING = timedelta(minutes=10)


def row(last_seen: timedelta = timedelta(), revoked: timedelta | None = None) -> WebSession:
    return WebSession(
        id_hash="0" * 64,
        kind="person",
        subject="p",
        created_at=SIGNED_IN,
        last_seen_at=SIGNED_IN + last_seen,
        revoked_at=None if revoked is None else SIGNED_IN + revoked,
    )


@pytest.mark.parametrize(
    ("session", "after", "reason"),
    [
        (row(), timedelta(minutes=30), None),
        (row(), timedelta(minutes=30, seconds=1), "unused for more than 0:30:00"),
        (row(last_seen=timedelta(hours=7, minutes=50)), timedelta(hours=8), None),
        (
            row(last_seen=timedelta(hours=7, minutes=50)),
            timedelta(hours=8, seconds=1),
            "signed in more than 8:00:00 ago",
        ),
        (row(revoked=timedelta(minutes=1)), timedelta(minutes=2), "signed out at 2026-12-05"),
    ],
)
def test_a_session_counts_until_revoked_idle_or_too_old(
    session: WebSession, after: timedelta, reason: str | None
) -> None:
    refusal = session_refusal(session, SIGNED_IN + after, idle=IDLE, absolute=ABSOLUTE)
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.startswith(reason)


def test_a_helpers_session_stops_counting_at_its_end() -> None:
    session = row()
    session.ends_at = SIGNED_IN + ACTING
    almost = SIGNED_IN + ACTING - timedelta(seconds=1)
    assert session_refusal(session, almost, idle=IDLE, absolute=ABSOLUTE) is None
    refusal = session_refusal(session, SIGNED_IN + ACTING, idle=IDLE, absolute=ABSOLUTE)
    assert refusal is not None and refusal.startswith("acting for someone until 2026-12-05T09:10")


@pytest.mark.parametrize(
    ("acting_for", "until", "end"),
    [
        (None, None, None),
        (None, SIGNED_IN + timedelta(minutes=1), None),
        ("helper", None, SIGNED_IN + ACTING),
        ("helper", SIGNED_IN + timedelta(days=3), SIGNED_IN + ACTING),
        ("helper", SIGNED_IN + timedelta(minutes=4), SIGNED_IN + timedelta(minutes=4)),
    ],
)
def test_a_helpers_session_ends_at_the_acting_lifetime_or_the_delegations_end_if_sooner(
    acting_for: str | None, until: datetime | None, end: datetime | None
) -> None:
    assert acting_end(SIGNED_IN, ACTING, acting_for, until) == end


def test_every_time_of_a_session_is_read_back_as_aware_utc() -> None:
    # SQLite hands back naive datetimes; the column type makes them aware UTC on every backend
    # (tests/integration/test_storage_types.py reads them back from both).
    times = [c for c in WebSession.__table__.columns if c.name.endswith("_at")]
    assert len(times) == 4
    assert all(isinstance(c.type, UtcDateTime) for c in times)


def test_the_stored_hash_of_a_session_id_is_its_sha256() -> None:
    assert hash_session_id("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
