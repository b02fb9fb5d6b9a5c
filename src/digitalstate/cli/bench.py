"""`digitalstate bench`: benchmarks across real node processes on loopback."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

import typer
from rich.table import Table

from digitalstate.cli.common import CliError, console, one_line_errors, progress_bar
from digitalstate.settings import MAX_WORKERS

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

    with progress_bar(hidden=as_json) as progress:
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


@app.command("consent")
@one_line_errors
def consent_command(
    people: Annotated[
        int, typer.Option(min=1, help="People at the register, each with a consent.")
    ] = 1_000_000,
    seconds: Annotated[
        float, typer.Option(min=1, help="Seconds of reads for each of consented and bare.")
    ] = 10,
    connections: Annotated[int, typer.Option(min=1, max=512, help="Concurrent connections.")] = 32,
    changes: Annotated[
        int, typer.Option(min=1, help="Address changes told to the subscribers.")
    ] = 30,
    subscribers: Annotated[
        int, typer.Option(min=1, max=50, help="Subscriber nodes told of each change.")
    ] = 10,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL for the register (a fresh schema); default SQLite."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_WORKERS,
            help="Measure the reads again with the register on this many workers (PostgreSQL).",
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Consented reads at a register of N people against bare reads, and change fan-out."""
    from digitalstate.benchmarks.consent import Options, run_consent_bench

    if workers > 1 and database_url is None:
        raise CliError(
            f"--workers: {workers} workers need PostgreSQL (SQLite has one writer); "
            "fix: give --database-url postgresql://..., or leave --workers out"
        )
    options = Options(
        people,
        seconds,
        connections,
        changes=changes,
        database_url=database_url,
        subscribers=subscribers,
        workers=workers,
    )
    with progress_bar(hidden=as_json) as progress:
        stages = {
            "fill": progress.add_task("Filling the register", total=people),
            "reads": progress.add_task("Measuring bare and consented reads", total=None),
            "fan-out": progress.add_task(
                f"Telling {subscribers} subscribers of changes", total=changes
            ),
        }

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(stages[stage], completed=done, total=total)

        try:
            result = run_consent_bench(options, on_progress=advance)
        except RuntimeError as exc:
            raise CliError(str(exc)) from exc
    _print(result, as_json, f"Consented reads, {people:,} people")


@app.command("log")
@one_line_errors
def log_command(
    entries: Annotated[
        int, typer.Option(min=1, help="Entries appended and integrated into the log.")
    ] = 10_000_000,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=100_000, help="Entries per integration ([log] batch_size)."),
    ] = None,
    append_batch: Annotated[
        int, typer.Option(min=1, max=100_000, help="Entries per append transaction.")
    ] = 1000,
    people: Annotated[
        int, typer.Option(min=1, help="People the entries are about, drawn at random.")
    ] = 1_000_000,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL for the log (a fresh schema); default SQLite."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Appends durably integrated per second, inclusion proofs and checkpoint delay."""
    from digitalstate.benchmarks.log import Options, run_log_bench

    options = Options(entries, append_batch=append_batch, people=people, database_url=database_url)
    if batch_size is not None:
        options = dataclasses.replace(options, batch_size=batch_size)
    with progress_bar(hidden=as_json) as progress:
        stages = {
            "append": progress.add_task("Appending entries", total=entries),
            "integrate": progress.add_task("Integrating them into the tree", total=entries),
            "proofs": progress.add_task("Timing inclusion proofs", total=options.proofs),
        }

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(stages[stage], completed=done, total=total)

        try:
            result = run_log_bench(options, on_progress=advance)
        except RuntimeError as exc:
            raise CliError(str(exc)) from exc
    _print(result, as_json, f"Transparency log, {entries:,} entries")


@app.command("services")
@one_line_errors
def services_command(
    people: Annotated[
        int,
        typer.Option(
            min=1, max=1000, help="Simulated people at once, each a different demo person."
        ),
    ] = 50,
    seed: Annotated[int, typer.Option(help="The demo seed the people come from.")] = 1,
    ramp_seconds: Annotated[
        float, typer.Option(min=0, max=600, help="Seconds over which the people arrive.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """People completing every declared service of the demo at once, over real HTTP."""
    from digitalstate.benchmarks.services import Options, run_services_bench

    with progress_bar(hidden=as_json) as progress:
        stages = {
            "seed": progress.add_task("Seeding the demo's people", total=None),
            "journeys": progress.add_task("Completing the services", total=None),
        }

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(stages[stage], completed=done, total=total)

        try:
            result = run_services_bench(Options(people, seed, ramp_seconds), on_progress=advance)
        except RuntimeError as exc:
            raise CliError(str(exc)) from exc
    _print(result, as_json, f"Declared services, {people} people at once")


@app.command("performance")
@one_line_errors
def performance_command(
    events: Annotated[
        int, typer.Option(min=1000, help="Service events over the year (10,000,000 by default).")
    ] = 10_000_000,
    requests: Annotated[
        int, typer.Option(min=20, max=100_000, help="GETs of the service's dashboard timed.")
    ] = 200,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL for the node (a fresh schema); default SQLite."),
    ] = None,
    stories: Annotated[
        int,
        typer.Option(
            min=100, help="Published stories behind the stories pages timed (SQLite, its own node)."
        ),
    ] = 100_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Every KPI of a year of service events, a service's dashboard over them, and the public
    stories pages of a node with many published stories."""
    from digitalstate.benchmarks.performance import Options, run_performance_bench
    from digitalstate.benchmarks.stories import Options as StoriesOptions
    from digitalstate.benchmarks.stories import run_stories_bench

    with progress_bar(hidden=as_json) as progress:
        stages = {
            "events": progress.add_task("Writing the events", total=events),
            "kpis": progress.add_task("Computing the KPIs", total=1),
            "dashboard": progress.add_task("Timing the dashboard", total=requests),
            "fill": progress.add_task("Publishing the stories", total=stories),
            "pages": progress.add_task("Timing the stories pages", total=1),
        }

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(stages[stage], completed=done, total=total)

        options = Options(events, requests, database_url=database_url)
        try:
            result = run_performance_bench(options, on_progress=advance)
            told = run_stories_bench(StoriesOptions(stories=stories), on_progress=advance)
        except RuntimeError as exc:
            raise CliError(str(exc)) from exc
    result |= {
        "stories": told["stories"],
        "stories_page_p95_ms": told["stories_page_p95_ms"],
        "stories_page_p50_ms": told["stories_page_p50_ms"],
        "stories_fill_seconds": told["fill_seconds"],
    }
    _print(result, as_json, f"Performance, {events:,} service events, {stories:,} stories")


@app.command("opendata")
@one_line_errors
def opendata_command(
    rows: Annotated[
        int,
        typer.Option(
            min=1000, help="Rows of the payments table datastore_search and Datasette query."
        ),
    ] = 1_000_000,
    datasets: Annotated[
        int, typer.Option(min=1, max=100_000, help="Datasets the portal harvests from members.")
    ] = 10_000,
    members: Annotated[
        int, typer.Option(min=1, max=20, help="Member nodes the datasets are shared among.")
    ] = 4,
    requests: Annotated[
        int,
        typer.Option(
            min=20, max=100_000, help="Timed requests of each query (ours and Datasette's)."
        ),
    ] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The open data portal's harvest and package_search, and its datastore_search side by side
    with Datasette's over the same table."""
    from digitalstate.benchmarks.opendata import Options, run_opendata_bench

    with progress_bar(hidden=as_json) as progress:
        stages = {
            "table": progress.add_task(f"Writing the {rows:,}-row table", total=1),
            "harvest": progress.add_task("Harvesting the members' datasets", total=datasets + 1),
            "package_search": progress.add_task("Timing package_search", total=requests),
            "datastore_search": progress.add_task(
                "Timing datastore_search and Datasette", total=requests
            ),
        }

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(stages[stage], completed=done, total=total)

        try:
            result = run_opendata_bench(
                Options(rows, datasets, members, requests), on_progress=advance
            )
        except RuntimeError as exc:
            raise CliError(str(exc)) from exc
    _print(result, as_json, f"Open data portal, {datasets:,} datasets, {rows:,} rows")


def _print(result: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps(result))
        return
    table = Table("figure", "value", title=title)
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
