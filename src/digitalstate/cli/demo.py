"""`digitalstate demo`: the whole demo federation on this machine, one process per node."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from digitalstate.cli.common import (
    CliError,
    console,
    ensure_port_free,
    now,
    one_line_errors,
    progress_bar,
)
from digitalstate.demo.federation import (
    DEFAULT_PEOPLE,
    DEFAULT_SEED,
    DEMO_NODES,
    DEMO_STAFF_PASSWORD,
    HOST,
    MAIL_CATCHER,
    MAX_PEOPLE,
    DemoLayout,
    prepare,
    seeded_people,
)
from digitalstate.demo.journeys import DEMO_JOURNEYS, MAX_JOURNEYS
from digitalstate.demo.run import (
    children,
    issue_operator_token,
    sign_in,
    staff_accounts,
    start,
    stop_on_signal,
    watch,
)
from digitalstate.demo.supervisor import Child, StartCancelled, StartError, stop_all
from digitalstate.mail.catcher import MAIL_PAGE


def _print_table(layout: DemoLayout, operator_token: str) -> None:
    table = Table("node", "roles", "URL", title="digitalstate demo federation")
    table.add_row("trust-anchor", "trust anchor", layout.anchor_url)
    for node in DEMO_NODES:
        table.add_row(node.id, ", ".join(node.roles), layout.url(node))
    table.add_row(MAIL_CATCHER, "mail catcher", layout.catcher_url)
    console.print(table)
    how = sign_in(layout)
    if how is not None:
        console.print(
            f"{seeded_people(layout):,} synthetic people. Sign in at {how['url']} as "
            f"{how['email']} with the password {how['password']}"
        )
    example = staff_accounts(layout)[0]
    console.print(
        "Staff pages at each service node: sign in at /staff/sign-in as caseworker@<node>"
        f".example.org or manager@<node>.example.org with the password {DEMO_STAFF_PASSWORD} "
        f"(for example {example['email']} at {example['url']})",
        markup=False,
        highlight=False,
    )
    console.print(
        f"Operator pages (/operator/log, /operator/outbox, /operator/email) and /metrics: sign "
        f"in at /operator/sign-in with the operator token {operator_token} "
        f"(or send it as 'Authorization: Bearer')",
        markup=False,
        highlight=False,
    )
    console.print(
        f"Email the nodes send is caught, not delivered: see it at {layout.catcher_url}"
        f"{MAIL_PAGE} (the same operator token); the catcher takes SMTP at "
        f"{HOST}:{layout.catcher_smtp_port}",
        markup=False,
        highlight=False,
    )
    console.print(f"Data and logs in {layout.data_dir}. Press Ctrl-C to stop every node.")


def _as_json(layout: DemoLayout, operator_token: str) -> str:
    nodes = [{"id": "trust-anchor", "roles": ["trust-anchor"], "base_url": layout.anchor_url}]
    nodes += [{"id": n.id, "roles": list(n.roles), "base_url": layout.url(n)} for n in DEMO_NODES]
    document: dict[str, object] = {
        "federation": layout.anchor_url,
        "nodes": nodes,
        "operator_token": operator_token,
        "staff": staff_accounts(layout),
        "mail_catcher": {
            "base_url": layout.catcher_url,
            "page": layout.catcher_url + MAIL_PAGE,
            "smtp": f"{HOST}:{layout.catcher_smtp_port}",
        },
    }
    how = sign_in(layout)
    if how is not None:
        document["people"] = seeded_people(layout)
        document["sign_in"] = how
    return json.dumps(document)


def _prepare(layout: DemoLayout, *, people: int, seed: int, journeys: int, as_json: bool) -> None:
    """Set up the data directory, with a progress bar while people are seeded."""
    with progress_bar(hidden=as_json) as progress:
        task = progress.add_task("Seeding synthetic people", total=people, visible=False)

        def seeded(done: int, wanted: int) -> None:
            progress.update(task, completed=done, total=wanted, visible=True)

        prepare(layout, now(), people=people, seed=seed, progress=seeded, journeys=journeys)


def _run(layout: DemoLayout, stopping: threading.Event, as_json: bool) -> None:
    """Start the anchor, then the nodes; run until stopping is set; stop every child."""
    first, nodes = children(layout)
    everyone = [*first, *nodes]
    operator_token = issue_operator_token(layout)
    try:
        started = time.monotonic()
        if stopping.is_set():
            return
        # A progress bar for people; --json keeps standard output to the one JSON document.
        with progress_bar(hidden=as_json) as progress:
            task = progress.add_task("Starting the federation", total=len(everyone))

            def ready(child: Child) -> None:
                progress.update(task, advance=1, description=f"{child.name} is ready")

            start(first, nodes, stopping, on_ready=ready)
        if as_json:
            print(_as_json(layout, operator_token), flush=True)
        else:
            _print_table(layout, operator_token)
            console.print(
                f"All {len(everyone)} processes ready in {time.monotonic() - started:.1f} s"
            )
        dead = watch(everyone, stopping)
        if dead:
            raise CliError(f"{', '.join(dead)} stopped unexpectedly; see {layout.data_dir}/logs")
    except StartCancelled:
        pass
    except StartError as exc:
        raise CliError(f"the demo did not start: {exc}") from exc
    finally:
        stop_all(everyone)


@one_line_errors
def demo_command(
    data_dir: Annotated[Path, typer.Option(help="Where keys, databases and logs live.")] = Path(
        "var/demo"
    ),
    base_port: Annotated[
        int,
        typer.Option(
            help="The trust anchor's port; the nodes, then the mail catcher, take the next twelve."
        ),
    ] = 8100,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON document of the nodes once all are ready."),
    ] = False,
    people: Annotated[
        int,
        typer.Option(
            min=0, max=MAX_PEOPLE, help="How many synthetic people to seed (at most 1,000,000)."
        ),
    ] = DEFAULT_PEOPLE,
    seed: Annotated[
        int, typer.Option(help="Seed of the synthetic people: the same seed, the same people.")
    ] = DEFAULT_SEED,
    journeys: Annotated[
        int,
        typer.Option(
            min=0,
            max=MAX_JOURNEYS,
            help=(
                "How many synthetic journeys to seed, over the last year, at each node whose "
                "services have pages (at most 100,000; only where none is recorded yet)."
            ),
        ),
    ] = DEMO_JOURNEYS,
) -> None:
    """Run the trust anchor, the ten demo nodes and a mail catcher, each its own process."""
    layout = DemoLayout(data_dir.resolve(), base_port)
    for port in layout.ports():
        ensure_port_free(HOST, port, "--base-port")
    # Ctrl-C and SIGTERM only ask to stop, from here on: setting up finishes (so nothing is
    # left half-written), starting is cut short, and every child started is stopped.
    stopping = threading.Event()
    on_signal = stop_on_signal(stopping)
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _prepare(layout, people=people, seed=seed, journeys=journeys, as_json=as_json)
        _run(layout, stopping, as_json)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not as_json:
        console.print("Stopped every node.")
