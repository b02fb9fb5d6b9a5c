"""`digitalstate node`: make a node's key and settings, and run it."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from digitalstate.cli.common import CliError, console, ensure_port_free, one_line_errors
from digitalstate.federation.domain import ROLES
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.node.setup import NODE_CONFIG, init_node
from digitalstate.services.definitions import load_service_definition
from digitalstate.settings import MAX_WORKERS, NodeSettings, load_node_settings
from digitalstate.tomlwrite import Value

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(help="Make a node's key and settings, and run it.", no_args_is_help=True)


@app.command("init")
@one_line_errors
def init_command(
    member_id: Annotated[str, typer.Option("--id", help="Member id, e.g. swansea-motoring.")],
    roles: Annotated[str, typer.Option(help="Comma list of charter,register,service,opendata.")],
    anchor_key: Annotated[str, typer.Option(help="The trust anchor's public key, base64.")],
    name: Annotated[str | None, typer.Option(help="Institution name (default: the id).")] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Directory (default ./ID).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8101,
    base_url: Annotated[
        str | None, typer.Option(help="Public base URL (default http://HOST:PORT).")
    ] = None,
    anchor_url: Annotated[
        str, typer.Option(help="The trust anchor's base URL.")
    ] = "http://127.0.0.1:8100",
    database_url: Annotated[
        str, typer.Option(help="SQLAlchemy URL (default SQLite in --dir).")
    ] = "",
    service: Annotated[
        Path | None,
        typer.Option(help="The service definition file this node runs (role service)."),
    ] = None,
) -> None:
    """Make a node's Ed25519 key pair (mode 0600) and its node.toml."""
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    bad = [r for r in role_list if r not in ROLES]
    if bad or not role_list:
        raise CliError(
            f"--roles: {', '.join(bad) or 'none given'}: use a comma list of {', '.join(ROLES)}"
        )
    try:
        PublicKey.from_b64(anchor_key)
    except ValueError as exc:
        raise CliError(f"--anchor-key: {exc}") from exc
    target = directory or Path(member_id)
    extra: dict[str, dict[str, Value]] = {}
    if service is not None:
        if "service" not in role_list:
            raise CliError("--service: only a node with the role service runs a service")
        load_service_definition(service, member_id)  # refuse a file the node could not use
        extra["services"] = {"files": [str(service.resolve())]}
    settings = init_node(
        target,
        member_id=member_id,
        name=name or member_id,
        roles=role_list,
        host=host,
        port=port,
        base_url=base_url or f"http://{host}:{port}",
        anchor_url=anchor_url.rstrip("/"),
        anchor_public_key=anchor_key,
        database_url=database_url,
        extra=extra,
    )
    public = KeyPair.load(settings.key_path).public.b64
    console.print(f"Created node {member_id} in {target}")
    console.print(
        f"Public key (give it to the trust anchor with federation add-member): {public}",
        markup=False,
        highlight=False,
    )


@app.command("operator-token")
@one_line_errors
def operator_token_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="The node's node.toml.")] = Path(
        NODE_CONFIG
    ),
) -> None:
    """Issue a new operator token for /operator/ pages and /metrics; the old one stops working."""
    from digitalstate.web.operator_token import OPERATOR_TOKEN_FILE, issue_operator_token

    settings = load_node_settings(config)
    token = issue_operator_token(settings.data_dir)
    console.print(
        f"Operator token of {settings.node.id} (shown once; only its hash is kept in "
        f"{settings.data_dir / OPERATOR_TOKEN_FILE}):",
        markup=False,
        highlight=False,
    )
    print(token)


WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        max=MAX_WORKERS,
        help="Worker processes on the node's port (default [server] workers; more than 1 "
        "needs PostgreSQL).",
    ),
]
# How a worker process (spawned by uvicorn's supervisor) finds its node: the settings file and
# the app factory, "module:function".
WORKER_CONFIG_ENV = "_DIGITALSTATE_WORKER_CONFIG"
WORKER_APP_ENV = "_DIGITALSTATE_WORKER_APP"
SUPERVISOR_ENV = "_DIGITALSTATE_SUPERVISOR_PID"
WORKER_HEALTHCHECK_SECONDS = 30
WORKERS_VARIABLE = "DIGITALSTATE_SERVER__WORKERS"


@app.command("serve")
@one_line_errors
def serve_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="The node's node.toml.")] = Path(
        NODE_CONFIG
    ),
    workers: WorkersOption = None,
) -> None:
    """Run the node: its exchange API, health endpoints and pages."""
    from digitalstate.app import create_node_app

    serve_node(config, create_node_app, workers=workers)


def refuse_workers_on_sqlite(settings: NodeSettings, workers: int, source: str) -> None:
    """CliError when more than one worker would serve a node on SQLite; source names the field."""
    if workers > 1 and settings.database_url.startswith("sqlite"):
        raise CliError(
            f"{source}: {workers} workers need PostgreSQL, and this node keeps its data in "
            "SQLite: SQLite has one writer, and the roles one worker holds at a time (the log "
            "sequencer, notice delivery, the witness) are PostgreSQL advisory locks; fix: set "
            "[database] url to a PostgreSQL URL, or serve with 1 worker"
        )


def serve_node(
    config: Path, make_app: Callable[[NodeSettings], FastAPI], *, workers: int | None = None
) -> None:
    """Serve the app make_app builds from the node's settings at config, where they say.

    With more than one worker (workers, else [server] workers), uvicorn's supervisor binds the
    port and hands it to that many worker processes, each building make_app anew
    (worker_app); it starts a new one when one dies (ADR 0024).
    """
    from digitalstate.web.hardening import server_options
    from digitalstate.web.serving import serve

    settings = load_node_settings(config)
    count = workers if workers is not None else settings.server.workers
    source = f"{config} ([server] workers)"
    if workers is not None:
        source = "--workers"
    elif WORKERS_VARIABLE in os.environ:
        source = f"{WORKERS_VARIABLE}, which overrides {config}"
    refuse_workers_on_sqlite(settings, count, source)
    ensure_port_free(settings.node.host, settings.node.port, f"{config} ([node] port)")
    options = {
        "host": settings.node.host,
        "port": settings.node.port,
        "log_level": settings.server.log_level,
        "access_log": settings.server.access_log,
        **server_options(settings.web),
    }
    if count == 1:
        serve(make_app(settings), **options)
        return
    # Built once here, and dropped, so that what is wrong with the settings is said in one line
    # before any worker starts (each worker builds its own).
    make_app(settings).state.node.engine.dispose()
    os.environ[WORKER_CONFIG_ENV] = str(config.resolve())
    os.environ[WORKER_APP_ENV] = f"{_module_of(make_app)}:{make_app.__qualname__}"
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    serve(
        f"{__name__}:worker_app",
        factory=True,
        workers=count,
        # A worker that does not answer the supervisor's ping this long is killed and replaced;
        # starting one (a new interpreter importing the app) takes seconds on a busy machine.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **options,
    )


def _module_of(function: Callable[..., object]) -> str:
    """The importable name of function's module, also when it was run with `python -m`."""
    module = function.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        if spec is not None:
            return str(spec.name)
    return module


def worker_app() -> FastAPI:
    """In a worker process: the node's app, built as serve_node was told to build it."""
    from digitalstate.web.serving import die_with_parent

    die_with_parent()  # a supervisor killed with SIGKILL leaves no worker behind
    # ... unless it died before that, while this worker was starting (seconds on a busy
    # machine): the kernel has given the worker another parent, and it would serve, and take
    # the node's roles, with nothing to stop it.
    supervisor = os.environ[SUPERVISOR_ENV]
    if str(os.getppid()) != supervisor:
        raise SystemExit(
            f"digitalstate: worker {os.getpid()}: its supervisor (process {supervisor}) is "
            "gone; the worker stops"
        )
    module, name = os.environ[WORKER_APP_ENV].split(":")
    make_app: Callable[[NodeSettings], FastAPI] = getattr(importlib.import_module(module), name)
    return make_app(load_node_settings(Path(os.environ[WORKER_CONFIG_ENV])))
