"""The benchmarks' node app: the production node app plus the unsigned bench routes.

`python -m digitalstate.benchmarks.app CONFIG` serves it as `digitalstate node serve` serves
the production app; the benchmarks start their measured nodes this way. It refuses a node that
does not listen on a loopback address: the routes under /bench/unsigned read and change any
person's record with no signature, consent or access record (benchmarks/mirror.py). Nothing
else mounts them, whatever a node's settings say.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI

from digitalstate.app import create_node_app
from digitalstate.benchmarks.mirror import install_bench_mirror
from digitalstate.cli.common import one_line_errors
from digitalstate.cli.node import serve_node
from digitalstate.node.runtime import NodeRuntime, is_loopback
from digitalstate.settings import NodeSettings, SettingsError


def create_bench_node_app(settings: NodeSettings) -> FastAPI:
    """The node's production app with the bench-only unsigned routes; loopback nodes only."""
    if not is_loopback(settings.node.host):
        raise SettingsError(
            f"{settings.config_path}: [node] host: the bench's unsigned routes are served only "
            f"on a loopback address, not {settings.node.host!r}; fix: set it to 127.0.0.1"
        )
    node = NodeRuntime.build(settings)
    app = create_node_app(settings, node)
    install_bench_mirror(app, node)
    return app


def bench_node_command(config: Path | str) -> list[str]:
    """The command line that serves the node at config with this app, for a Child."""
    return [sys.executable, "-m", __name__, str(config)]


def serve(
    config: Annotated[Path, typer.Argument(help="The node's node.toml.")],
) -> None:
    """Run a node for a benchmark: its production app and the unsigned bench routes."""
    serve_node(config, create_bench_node_app)


if __name__ == "__main__":
    typer.run(one_line_errors(serve))
