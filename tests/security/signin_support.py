"""Shared parts of the sign-in security tests: a clock the test moves by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Clock:
    """A clock the test moves by hand (the charter's sign-in guard reads it)."""

    now: datetime

    def __call__(self) -> datetime:
        """The time now, as the test has set it."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock on."""
        self.now += timedelta(**delta)


NONCE = re.compile(r"nonce(=\"|-)[A-Za-z0-9_\-+/=]+")


def without_tokens(text: str, email: str) -> str:
    """text (a page or a header) less its CSRF token, CSP nonce and the email echoed back."""
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
    return NONCE.sub("nonce", text).replace(email, "EMAIL")
