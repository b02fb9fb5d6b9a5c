"""The rules of delivering change notices: when to try again, and when to give up.

Plain computation: no database, no HTTP. Times are aware datetimes (the database hands them back
aware and in UTC: storage.types.UtcDateTime).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

JITTER_LOW = 0.5
JITTER_HIGH = 1.5
# After this many failed attempts a row is worth an operator's attention: a warning is logged
# on every further failure.
WARN_AFTER_ATTEMPTS = 5


@dataclass(frozen=True)
class Backoff:
    """How retries are spaced: base * 2**attempts seconds, capped at max_seconds, jittered."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        """The seconds to wait before the next try, after `attempts` failed tries."""
        # min() first, then the exponent can no longer overflow a float for large counts.
        exponent = min(attempts, 64)
        capped = min(self.max_seconds, self.base_seconds * 2.0**exponent)
        return capped * rng.uniform(JITTER_LOW, JITTER_HIGH)


def next_attempt(
    attempts: int, now: datetime, rng: random.Random, backoff: Backoff | None = None
) -> datetime:
    """When to try a notice again after `attempts` failed tries: bounded exponential + jitter."""
    return now + timedelta(seconds=(backoff or Backoff()).delay(attempts, rng))


def is_dead(created_at: datetime, now: datetime, dead_after: timedelta) -> bool:
    """True when a notice made at created_at has been failing for longer than dead_after."""
    return now - created_at > dead_after
