"""Security tests run real nodes like the integration tests, with the same clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integration.conftest import no_settings_from_the_environment  # noqa: F401 (autouse)
from integration.identity_support import Federation, start_federation
from security.signin_support import Clock
from support.fixtures import alice, bob  # noqa: F401 (fixtures of the security tests)


@pytest.fixture
def fed(tmp_path: Path, migrated_database_url: str) -> Iterator[Federation]:
    """A charter in-process, on SQLite and on PostgreSQL."""
    yield from start_federation(tmp_path, migrated_database_url)


@pytest.fixture
def clock(fed: Federation) -> Clock:
    """The charter's sign-in clock, moved by the test."""
    moved = Clock(datetime.now(UTC))
    fed.charter.app.state.sign_in_guard.clock = moved
    return moved
