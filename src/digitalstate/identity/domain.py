"""How long a run of failed sign-ins locks an account or a client: plain rules, no storage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

# 2**20 times the first lock is far past any cap; the bound keeps timedelta from overflowing.
_MOST_DOUBLINGS = 20


@dataclass(frozen=True)
class Bound:
    """Failures allowed within a window; past them a lock that doubles with each failure."""

    failures: int
    window: timedelta
    first_lock: timedelta
    longest_lock: timedelta

    def lock_length(self, failures: int) -> timedelta:
        """How long failures (counted in the window) lock; zero below the allowance."""
        if failures < self.failures:
            return timedelta(0)
        doublings = min(failures - self.failures, _MOST_DOUBLINGS)
        length: timedelta = self.first_lock * (1 << doublings)
        return min(length, self.longest_lock)

    def locked_until(self, failures: int, last_failure: datetime | None) -> datetime | None:
        """When the lock after failures (the last at last_failure) ends; None when no lock."""
        length = self.lock_length(failures)
        if last_failure is None or not length:
            return None
        return last_failure + length


def minutes_left(until: datetime, now: datetime) -> int:
    """Whole minutes until until, rounded up, at least 1 (what a person is told to wait)."""
    return max(1, math.ceil((until - now).total_seconds() / 60))
