"""What every command shares: one-line errors, exit codes, the console, time, a node's database."""

from __future__ import annotations

import functools
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from digitalstate.federation.catalogue import CatalogueError
from digitalstate.federation.service import FederationChangeError
from digitalstate.keys import KeyFileError
from digitalstate.settings import SettingsError, load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """A failure to report in one line, exiting non-zero."""


USER_ERRORS = (CliError, SettingsError, KeyFileError, CatalogueError, FederationChangeError)


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the expected failures of a command into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            print(f"digitalstate: error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper


@contextmanager
def node_database(config: Path) -> Iterator[Callable[[Callable[[Session], R]], R]]:
    """A function that runs one step in a transaction on the database of the node config names.

    A database that cannot be used (unreachable, not migrated) is a CliError naming the fix.
    """
    settings = load_node_settings(config)
    engine = make_engine(settings.database_url)

    def run(step: Callable[[Session], R]) -> R:
        try:
            with make_sessions(engine).begin() as session:
                return step(session)
        except (OperationalError, ProgrammingError) as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise CliError(
                f"{config}: the node's database cannot be used ({first}); check [database] url "
                f"and run 'digitalstate db upgrade --config {config}'"
            ) from exc

    try:
        yield run
    finally:
        engine.dispose()


def progress_bar(*, hidden: bool) -> Progress:
    """The progress bar of long work, on standard error; hidden keeps stderr quiet (--json)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=hidden,
        transient=True,
    )


def now() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def ensure_port_free(host: str, port: int, where: str) -> None:
    """Raise CliError naming the port when something already listens on it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CliError(
                f"port {port} on {host} is already in use ({exc.strerror}); "
                f"stop what uses it or choose another port in {where}"
            ) from exc
