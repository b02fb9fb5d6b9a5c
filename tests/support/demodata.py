"""A demo data directory prepared once per test session, copied for each test that needs one.

Preparing the demo's folder (`prepare`: anchor, ten nodes, their migrated databases, staff,
spending and a year of journeys) takes seconds of CPU; copying the files it wrote takes a small
part of that. A test that starts from a prepared folder gets its own copy and runs `prepare`
on it as it would on a fresh one: `prepare` is idempotent, so the folder ends as a fresh run
with the test's arguments would leave it (the tests that check a fresh run keep one).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digitalstate.demo.federation import DemoLayout, prepare

TEMPLATE_PORT = 18100
TEMPLATE_SEED = 1


@dataclass
class PreparedDemo:
    """A demo folder prepared with no people and seed 1, at base port 18100, made on first use."""

    root: Path
    _template: DemoLayout | None = field(default=None, init=False)

    def copy_to(self, data_dir: Path) -> DemoLayout:
        """A copy of the prepared folder at data_dir, as its layout (the same base port)."""
        if self._template is None:
            template = DemoLayout(self.root / "template", TEMPLATE_PORT)
            prepare(template, datetime.now(UTC), people=0, seed=TEMPLATE_SEED)
            self._template = template
        shutil.copytree(self._template.data_dir, data_dir)
        return DemoLayout(data_dir, TEMPLATE_PORT)


@pytest.fixture(scope="session")
def prepared_demo(tmp_path_factory: pytest.TempPathFactory) -> PreparedDemo:
    """The session's prepared demo folder, to copy (never to change in place)."""
    return PreparedDemo(tmp_path_factory.mktemp("prepared-demo"))
