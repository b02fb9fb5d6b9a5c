"""Fixtures several test layers share. A conftest.py imports the ones its tests use.

alice and bob are people with an account at the charter of the test's federation: they need a
fixture `fed` (the module's or the conftest's) whose add_person(email, name) makes one.
"""

from __future__ import annotations

from typing import Protocol

import pytest

ALICE = "alice@example.test"
BOB = "bob@example.test"


class WithCharter(Protocol):
    """A federation of a test whose charter can be given people."""

    def add_person(self, email: str, name: str) -> str:
        """A person with an account at the charter; their internal id."""
        ...


@pytest.fixture
def alice(fed: WithCharter) -> str:
    """Alice, with an account at the charter."""
    return fed.add_person(ALICE, "Alice Example")


@pytest.fixture
def bob(fed: WithCharter) -> str:
    """Bob, with an account at the charter."""
    return fed.add_person(BOB, "Bob Builder")
