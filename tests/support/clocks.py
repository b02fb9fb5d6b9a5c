"""A clock the test moves by hand, for code that takes `clock: Callable[[], datetime]`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Clock:
    """The time as the test sets it; advance(seconds=30) moves it on."""

    now: datetime

    def __call__(self) -> datetime:
        """The time now, as the test has set it."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock on by a timedelta's worth (seconds=, minutes=, ...)."""
        self.now += timedelta(**delta)
