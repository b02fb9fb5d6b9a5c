"""Fixtures of the end-to-end tests: process groups that are always stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import Processes, processes


@pytest.fixture
def procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """Processes of one test, all stopped when it ends."""
    with processes(tmp_path_factory.mktemp("logs")) as group:
        yield group


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """Processes shared by the tests of one module, all stopped after its last test."""
    with processes(tmp_path_factory.mktemp("logs")) as group:
        yield group
