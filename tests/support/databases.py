"""The kinds of database a test runs on: SQLite always, PostgreSQL where one is configured."""

from __future__ import annotations

import pytest

DATABASE_KINDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
"""Parameters of a fixture run once on each kind (the postgres one marked postgres)."""
