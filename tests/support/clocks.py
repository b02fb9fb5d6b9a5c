"""A clock a test moves by hand, for the parts of a node that take their time from one.

The sign-in guards read a datetime (``clock()``), the session stores a POSIX time
(``clock.seconds``): one Clock can drive both, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Clock:
    """The time now, as the test has set it."""

    now: datetime

    def __call__(self) -> datetime:
        """The time now, as an aware datetime."""
        return self.now

    def seconds(self) -> float:
        """The time now, in seconds since the epoch."""
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        """Move the clock on by timedelta(**delta)."""
        self.now += timedelta(**delta)
