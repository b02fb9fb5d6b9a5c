"""The rules of delivering change notices: when to try again, and when to give up.

The back-off itself is shared with every other worker that retries (digitalstate/backoff.py).

Plain computation: no database, no HTTP. Times are aware datetimes (the database hands them back
aware and in UTC: storage.types.UtcDateTime).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from digitalstate.backoff import Backoff, next_attempt

__all__ = [
    "WARN_AFTER_ATTEMPTS",
    "Backoff",
    "is_dead",
    "next_attempt",
]

# After this many failed attempts a row is worth an operator's attention: a warning is logged
# on every further failure.
WARN_AFTER_ATTEMPTS = 5


def is_dead(created_at: datetime, now: datetime, dead_after: timedelta) -> bool:
    """True when a notice made at created_at has been failing for longer than dead_after."""
    return now - created_at > dead_after
