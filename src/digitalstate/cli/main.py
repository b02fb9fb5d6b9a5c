"""The `digitalstate` command."""

from __future__ import annotations

import typer

from digitalstate import __version__
from digitalstate.cli import (
    bench,
    db,
    demo,
    federation,
    log,
    mail,
    node,
    outbox,
    prisons,
    service,
    spending,
    staff,
)

app = typer.Typer(
    help="digitalstate: government as a federation of nodes that keep people's trust.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(federation.app, name="federation")
app.add_typer(node.app, name="node")
app.add_typer(db.app, name="db")
app.add_typer(bench.app, name="bench")
app.add_typer(outbox.app, name="outbox")
app.add_typer(log.app, name="log")
app.add_typer(mail.app, name="mail")
app.add_typer(service.app, name="service")
app.add_typer(staff.app, name="staff")
app.add_typer(prisons.app, name="prisons")
app.add_typer(spending.app, name="spending")
app.command("demo")(demo.demo_command)


@app.command("version")
def version_command() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    """Entry point of the console script."""
    app()
