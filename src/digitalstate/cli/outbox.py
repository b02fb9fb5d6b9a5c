"""`digitalstate outbox`: see and retry a register node's undelivered change notices.

The commands work on the node's database directly, so they work whether the node runs or
not. A running node sends a retried notice at its next look at the outbox ([tellusonce]
poll_seconds).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from digitalstate.cli.common import CliError, console, node_database, now, one_line_errors
from digitalstate.tellusonce.service import OutboxEntry, list_outbox, retry_dead, retry_notices

app = typer.Typer(
    help="See and retry the change notices a register node has not delivered.",
    no_args_is_help=True,
)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The node's node.toml.")]


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _as_json(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "state": entry.state,
        "requester": entry.requester,
        "consent_id": entry.consent_id,
        "fields": entry.fields,
        "version": entry.version,
        "attempts": entry.attempts,
        "next_attempt_at": None if entry.state == "dead" else _when(entry.next_attempt_at),
        "last_error": entry.last_error,
        "created_at": _when(entry.created_at),
        "dead_at": _when(entry.dead_at),
    }


def _describe(entry: OutboxEntry) -> list[str]:
    """A notice in a few lines: what, to whom, how it went."""
    if entry.state == "dead":
        status = f"dead-lettered {_when(entry.dead_at)}, not tried again until retried"
    else:
        status = f"next try {_when(entry.next_attempt_at)}"
    return [
        f"{entry.id}  {entry.state}  to {entry.requester}",
        f"    consent {entry.consent_id}, version {entry.version}: {', '.join(entry.fields)}",
        f"    made {_when(entry.created_at)}, {entry.attempts} failed tries, {status}",
        *([f"    last error: {entry.last_error}"] if entry.last_error else []),
    ]


@app.command("list")
@one_line_errors
def list_command(
    config: ConfigOption,
    dead: Annotated[bool, typer.Option("--dead", help="Only the dead-lettered notices.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """List the notices not yet delivered (waiting, failing, dead-lettered), oldest first."""
    with node_database(config) as run:
        entries = run(lambda s: list_outbox(s, state="dead" if dead else None, limit=None))
    if as_json:
        print(json.dumps([_as_json(e) for e in entries]))
        return
    if not entries:
        console.print("No dead-lettered notices" if dead else "No undelivered notices")
        return
    # Plain lines, not a table: they read in any terminal width, and an error's text (which
    # may hold brackets) is printed as it is.
    for entry in entries:
        print(*_describe(entry), sep="\n")


@app.command("retry")
@one_line_errors
def retry_command(
    config: ConfigOption,
    ids: Annotated[
        list[int] | None,
        typer.Option("--id", help="A notice to send again now (repeat for more)."),
    ] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Send every dead-lettered notice again now.")
    ] = False,
) -> None:
    """Send notices again now, with a fresh count of tries: those named, or every dead one."""
    wanted = sorted(set(ids or []))
    if bool(wanted) == all_dead:
        raise CliError("name the notices with --id N (repeatable), or give --all-dead; not both")
    moment = now()

    def retry(session: Session) -> list[int]:
        if all_dead:
            return retry_dead(session, moment)
        done = retry_notices(session, wanted, moment)
        missing = sorted(set(wanted) - set(done))
        if missing:
            # Raised inside the transaction: nothing is changed unless every id can be.
            raise CliError(
                f"no undelivered notice with id {', '.join(map(str, missing))}; "
                f"see 'digitalstate outbox list --config {config}'"
            )
        return done

    with node_database(config) as run:
        done = run(retry)
    if not done:
        console.print("No dead-lettered notices to retry")
        return
    console.print(
        f"{len(done)} notice{'s' if len(done) != 1 else ''} will be sent again now: "
        + ", ".join(map(str, done))
    )
