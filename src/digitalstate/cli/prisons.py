"""`digitalstate prisons`: the register of a node with [prisons]: prisons, prisoners and visit
slots (docs/services.md, "Book a prison visit").

The commands work on the node's database directly, whether the node runs or not: a slot added
is offered from the next page that asks for visit times. Times are the prisons' own
(Europe/London).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from digitalstate.cli.common import CliError, node_database, one_line_errors
from digitalstate.prisons.domain import MAX_CAPACITY, MAX_SLOT_MINUTES, TIMEZONE
from digitalstate.prisons.service import PrisonsError, add_prison, add_prisoner, add_slot
from digitalstate.settings import load_node_settings

app = typer.Typer(
    help="The prisons' register of a node with [prisons]: prisons, prisoners, visit slots.",
    no_args_is_help=True,
)
prisoners_app = typer.Typer(help="The prisons' register of prisoners.", no_args_is_help=True)
slots_app = typer.Typer(help="The prisons' visiting times.", no_args_is_help=True)
app.add_typer(prisoners_app, name="prisoners")
app.add_typer(slots_app, name="slots")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The node's node.toml.")]
PrisonOption = Annotated[str, typer.Option("--prison", help="The prison's id, e.g. cardiff.")]
MAX_WEEKS = 104
T = TypeVar("T")


def _change(config: Path, step: Callable[[Session], T]) -> T:
    """Run step on the database of a node with [prisons]; a PrisonsError becomes one line."""
    settings = load_node_settings(config)
    if settings.prisons is None:
        raise CliError(
            f"{config}: {settings.node.id} keeps no prisons' register; add a [prisons] section "
            "to its settings (docs/configuration.md#prisons)"
        )
    try:
        with node_database(config) as run:
            return run(step)
    except PrisonsError as exc:
        raise CliError(f"{config}: {exc}") from None


@app.command("add")
@one_line_errors
def add_command(
    config: ConfigOption,
    prison: Annotated[
        str, typer.Option("--id", help="Its id, as the service's prison question's choice.")
    ],
    name: Annotated[str, typer.Option("--name", help="Its name, e.g. 'HMP Cardiff'.")],
) -> None:
    """Add a prison that takes visit requests."""
    added = _change(config, lambda s: add_prison(s, prison, name))
    print(f"Added {prison} ({name.strip()})" if added else f"{prison} is there already")


@prisoners_app.command("add")
@one_line_errors
def add_prisoner_command(
    config: ConfigOption,
    prison: PrisonOption,
    number: Annotated[str, typer.Option("--number", help="Their prison number, e.g. A1234BC.")],
    given_names: Annotated[str, typer.Option("--given-names", help="Their first names.")],
    family_name: Annotated[str, typer.Option("--family-name", help="Their last name.")],
    born: Annotated[
        str, typer.Option("--date-of-birth", help="Their date of birth, e.g. 1985-03-27.")
    ],
) -> None:
    """Add someone to a prison's register of prisoners."""
    try:
        day = date.fromisoformat(born)
    except ValueError:
        raise CliError(f"--date-of-birth: {born!r} is not a date; write it as 1985-03-27") from None
    added = _change(
        config,
        lambda s: add_prisoner(
            s,
            number=number,
            given_names=given_names,
            family_name=family_name,
            born=day,
            prison_id=prison,
        ),
    )
    print(f"Added {number.upper()} at {prison}" if added else f"{number.upper()} is there already")


@slots_app.command("add")
@one_line_errors
def add_slots_command(
    config: ConfigOption,
    prison: PrisonOption,
    start: Annotated[
        str, typer.Option("--start", help="When the first starts, local time: 2026-12-07T14:00.")
    ],
    minutes: Annotated[
        int, typer.Option("--minutes", min=1, max=MAX_SLOT_MINUTES, help="How long a visit lasts.")
    ],
    capacity: Annotated[
        int, typer.Option("--capacity", min=1, max=MAX_CAPACITY, help="Visits (tables) it takes.")
    ],
    weeks: Annotated[
        int,
        typer.Option(
            "--weeks", min=1, max=MAX_WEEKS, help="The same time each week, this many weeks."
        ),
    ] = 1,
) -> None:
    """Add a visiting time to a prison, once or each week at the same time."""
    try:
        first = datetime.fromisoformat(start)
    except ValueError:
        raise CliError(
            f"--start: {start!r} is not a date and time; write 2026-12-07T14:00"
        ) from None
    if first.tzinfo is not None:
        raise CliError(
            f"--start: {start!r} has an offset; give the prison's local time, without one"
        )

    def add(session: Session) -> int:
        made = 0
        for week in range(weeks):
            local = (first + timedelta(weeks=week)).replace(tzinfo=TIMEZONE)
            made += add_slot(
                session,
                prison_id=prison,
                starts_at=local,
                ends_at=local + timedelta(minutes=minutes),
                capacity=capacity,
            )
        return made

    made = _change(config, add)
    there = f" ({weeks - made} there already)" if made < weeks else ""
    print(f"Added {made} visit slot{'s' if made != 1 else ''} at {prison}{there}")
