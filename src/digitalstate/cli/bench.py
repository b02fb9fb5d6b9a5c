"""`digitalstate bench`: benchmarks across real node processes on loopback."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from digitalstate.cli.common import CliError, console, err_console, one_line_errors

app = typer.Typer(help="Benchmarks across real node processes on loopback.", no_args_is_help=True)


@app.command("exchange")
@one_line_errors
def exchange_command(
    seconds: Annotated[
        float, typer.Option(min=1, help="Seconds of load for each of signed and bare.")
    ] = 10,
    connections: Annotated[int, typer.Option(min=1, max=512, help="Concurrent connections.")] = 32,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Signed request/response round trips per second against the same endpoint unsigned."""
    from digitalstate.benchmarks.exchange import run_exchange_bench

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
        transient=True,
    ) as progress:
        task = progress.add_task("Measuring bare and signed phases", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = run_exchange_bench(seconds, connections, on_progress=advance)
        except RuntimeError as exc:
            raise CliError(str(exc)) from exc
    if as_json:
        print(json.dumps(result))
        return
    table = Table("figure", "value", title="Signed exchange, two node processes on loopback")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
