"""Integration tests read settings files they write themselves, never the caller's overrides."""

from __future__ import annotations

import os

import pytest

from support.fixtures import alice, bob  # noqa: F401 (fixtures of the integration tests)

POSTGRES_ENV = "DIGITALSTATE_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets itself may override the settings files it writes."""
    for name in list(os.environ):
        if name.upper().startswith("DIGITALSTATE_") and name.upper() != POSTGRES_ENV:
            monkeypatch.delenv(name)
