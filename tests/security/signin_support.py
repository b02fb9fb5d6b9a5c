"""Shared parts of the sign-in security tests: a clock the test moves by hand (support.clocks)."""

from __future__ import annotations

import re

from support.clocks import Clock

__all__ = ["NONCE", "Clock", "without_tokens"]

NONCE = re.compile(r"nonce(=\"|-)[A-Za-z0-9_\-+/=]+")


def without_tokens(text: str, email: str) -> str:
    """text (a page or a header) less its CSRF token, CSP nonce and the email echoed back."""
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
    return NONCE.sub("nonce", text).replace(email, "EMAIL")
