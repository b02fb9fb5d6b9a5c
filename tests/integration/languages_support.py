"""Shared parts of the language tests: which languages a node offers, and reading a page in one.

A node's languages are [web] languages; these tests set them as an operator could, with the
DIGITALSTATE_WEB__LANGUAGES environment variable, before the node's settings are read.
"""

from __future__ import annotations

import json

import httpx
import pytest

from digitalstate.web.i18n import PSEUDO
from digitalstate.web.languages import COOKIE
from support.pages import unmarked

LANGUAGES_VARIABLE = "DIGITALSTATE_WEB__LANGUAGES"


def offer(monkeypatch: pytest.MonkeyPatch, *codes: str) -> None:
    """Nodes whose settings are read from now on offer the languages codes."""
    monkeypatch.setenv(LANGUAGES_VARIABLE, json.dumps(list(codes)))


def in_language(cookies: httpx.Cookies, code: str) -> None:
    """Choose code for every later page, as the cookie a ?lang= left does."""
    cookies.set(COOKIE, code)


def assert_marked(page: httpx.Response, *allowed: str) -> None:
    """Every text of a pseudo-locale page is a catalogue message, or a value allowed names."""
    assert page.status_code < 500, page.text
    assert f'<html lang="{PSEUDO}"' in page.text, "the page is not in the pseudo-locale"
    left = unmarked(page.text, allowed)
    assert left == [], f"{page.request.url}: texts outside the catalogue: {left}"
