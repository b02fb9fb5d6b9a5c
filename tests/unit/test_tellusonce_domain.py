"""Tell-us-once delivery rules: bounded exponential back-off with jitter, and dead letters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from digitalstate.tellusonce.domain import Backoff, is_dead, next_attempt

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

attempts = st.integers(min_value=0, max_value=10_000)
seeds = st.integers(min_value=0, max_value=2**32)
bases = st.floats(min_value=0.001, max_value=60, allow_nan=False)
maxima = st.floats(min_value=0.001, max_value=86_400, allow_nan=False)


@given(attempts, seeds, bases, maxima)
def test_the_wait_is_the_capped_doubling_times_a_factor_between_half_and_one_and_a_half(
    tries: int, seed: int, base: float, maximum: float
) -> None:
    backoff = Backoff(base, maximum)
    wait = (next_attempt(tries, NOW, random.Random(seed), backoff) - NOW).total_seconds()
    capped = min(maximum, base * 2.0 ** min(tries, 64))
    tolerance = 1e-6 * capped + 1e-6  # timedelta keeps microseconds
    assert 0.5 * capped - tolerance <= wait <= 1.5 * capped + tolerance


@given(attempts, seeds)
def test_no_wait_is_ever_longer_than_one_and_a_half_times_the_maximum(
    tries: int, seed: int
) -> None:
    wait = next_attempt(tries, NOW, random.Random(seed)) - NOW
    assert timedelta(0) < wait <= timedelta(seconds=450)


def test_the_defaults_start_at_one_second_and_double_to_five_minutes() -> None:
    class Middle(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return 1.0

    waits = [(next_attempt(n, NOW, Middle()) - NOW).total_seconds() for n in range(12)]
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_a_huge_count_of_failures_does_not_overflow() -> None:
    wait = next_attempt(10**9, NOW, random.Random(1)) - NOW
    assert timedelta(seconds=150) <= wait <= timedelta(seconds=450)


def test_the_same_seed_gives_the_same_jitter() -> None:
    first = next_attempt(3, NOW, random.Random(7))
    assert next_attempt(3, NOW, random.Random(7)) == first


def test_a_notice_is_dead_only_once_it_is_older_than_the_limit() -> None:
    limit = timedelta(hours=48)
    assert not is_dead(NOW - timedelta(hours=47, minutes=59), NOW, limit)
    assert not is_dead(NOW - limit, NOW, limit)
    assert is_dead(NOW - limit - timedelta(seconds=1), NOW, limit)


def test_a_notice_is_dead_by_the_instant_whatever_the_offsets() -> None:
    # The database hands back aware UTC (storage.types.UtcDateTime); a clock may use any offset.
    elsewhere = timezone(timedelta(hours=-5))
    assert is_dead((NOW - timedelta(hours=49)).astimezone(elsewhere), NOW, timedelta(hours=48))
    assert not is_dead(NOW.astimezone(elsewhere), NOW + timedelta(hours=1), timedelta(hours=48))
