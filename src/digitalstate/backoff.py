"""How background work spaces its retries: bounded exponential back-off with jitter.

Plain computation, shared by every worker that retries (tellusonce's deliveries and re-reads,
the email outbox): no database, no I/O. Times are aware datetimes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

JITTER_LOW = 0.5
JITTER_HIGH = 1.5


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
    """When to try again after `attempts` failed tries: bounded exponential + jitter."""
    return now + timedelta(seconds=(backoff or Backoff()).delay(attempts, rng))
