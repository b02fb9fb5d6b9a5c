"""`digitalstate db`: migrate a node's or the trust anchor's database."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from digitalstate.cli.common import CliError, console, one_line_errors
from digitalstate.settings import load_anchor_settings, load_node_settings
from digitalstate.storage import migrate
from digitalstate.storage.engine import make_engine

app = typer.Typer(help="Migrate a node's or the trust anchor's database.", no_args_is_help=True)

ConfigArg = Annotated[Path, typer.Option("--config", "-c", help="A node.toml or anchor.toml.")]


def _engine(config: Path) -> Engine:
    try:
        with config.open("rb") as handle:
            is_anchor = "anchor" in tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        is_anchor = False  # the loader below reports the problem in one line
    settings = load_anchor_settings(config) if is_anchor else load_node_settings(config)
    return make_engine(settings.database_url)


@app.command("upgrade")
@one_line_errors
def upgrade_command(
    config: ConfigArg,
    revision: Annotated[str, typer.Option(help="Revision to upgrade to.")] = "head",
) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    engine = _engine(config)
    try:
        migrate.upgrade(engine, revision)
        console.print(f"Database at {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


@app.command("current")
@one_line_errors
def current_command(config: ConfigArg) -> None:
    """Show the revision the database is at and the newest one."""
    engine = _engine(config)
    try:
        console.print(
            f"current {migrate.current_revision(engine)}, newest {migrate.head_revision()}"
        )
    finally:
        engine.dispose()


@app.command("check")
@one_line_errors
def check_command(config: ConfigArg) -> None:
    """Fail if the models have drifted from the migrations (alembic check)."""
    from alembic.util.exc import CommandError

    engine = _engine(config)
    try:
        migrate.check(engine)
    except CommandError as exc:
        raise CliError(f"models and migrations differ: {exc}") from exc
    finally:
        engine.dispose()
    console.print("Models and migrations agree")
