#!/usr/bin/env python3
"""Regenerate the newest, unreleased migration from the models (for development only).

Usage: python scripts/regenerate_migration.py REVISION "message"
Deletes the migration file of REVISION, upgrades a scratch SQLite database to the revision
before it, and autogenerates REVISION again from the current models. Never use it on a
revision that has been released: released migrations are changed by new revisions.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from digitalstate.storage.engine import make_engine
from digitalstate.storage.migrate import alembic_config, upgrade

VERSIONS = Path(__file__).resolve().parent.parent / "src/digitalstate/storage/migrations/versions"


def main(revision: str, message: str) -> None:
    """Rebuild the migration file of revision from the models."""
    for path in VERSIONS.glob(f"{revision}_*.py"):
        path.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.db")
        config = alembic_config(engine)
        head = ScriptDirectory.from_config(config).get_current_head()
        upgrade(engine, head or "base")
        command.revision(config, message=message, autogenerate=True, rev_id=revision)
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
