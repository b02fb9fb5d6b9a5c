"""`digitalstate bench exchange`: signed round trips between two real node processes."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from digitalstate.benchmarks.app import bench_node_command
from digitalstate.benchmarks.ports import free_port
from digitalstate.demo.supervisor import Child, python_command, stop_all, wait_until
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.service import add_node_member
from digitalstate.federation.setup import init_anchor
from digitalstate.keys import KeyPair
from digitalstate.node.setup import init_node
from digitalstate.settings import load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions

HOST = "127.0.0.1"


def _setup(root: Path) -> tuple[Path, Path, Path]:
    now = datetime.now(UTC)
    anchor_port, server_port, client_port = free_port(), free_port(), free_port()
    anchor_settings, _ = init_anchor(
        root / "anchor",
        federation="bench",
        base_url=f"http://{HOST}:{anchor_port}",
        host=HOST,
        port=anchor_port,
        catalogue=load_catalogue(None),
        validity_hours=1,
        now=now,
    )
    anchor_key = KeyPair.load(anchor_settings.key_path)
    quiet = {"server": {"log_level": "warning", "access_log": False}}
    configs = []
    for member_id, port, extra in (
        ("bench-server", server_port, quiet),
        ("bench-client", client_port, quiet),
    ):
        init_node(
            root / member_id,
            member_id=member_id,
            name=member_id,
            roles=["register"],
            host=HOST,
            port=port,
            base_url=f"http://{HOST}:{port}",
            anchor_url=anchor_settings.anchor.base_url,
            anchor_public_key=anchor_key.public.b64,
            extra=extra,  # type: ignore[arg-type]
        )
        configs.append(root / member_id / "node.toml")
    engine = make_engine(anchor_settings.database_url)
    with make_sessions(engine).begin() as session:
        for config in configs:
            add_node_member(
                session,
                anchor_key,
                load_node_settings(config),
                now=now,
                validity=timedelta(hours=1),
            )
    engine.dispose()
    return root / "anchor" / "anchor.toml", configs[0], configs[1]


def _drive(
    client_config: Path,
    seconds: float,
    connections: int,
    rounds: int,
    on_progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    """Run the calling node's load process, relaying its progress; return its figures."""
    command = [
        sys.executable, "-m", "digitalstate.benchmarks.load", str(client_config),
        "bench-server", str(seconds), str(connections), str(rounds),
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as load:
        assert load.stderr is not None and load.stdout is not None
        errors: list[str] = []
        for line in load.stderr:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "progress" and on_progress is not None:
                on_progress(int(parts[1]), int(parts[2]))
            elif parts and parts[0] != "progress":
                errors.append(line)
        output = load.stdout.read()
        if load.wait(timeout=seconds * 3 + 60) != 0:
            raise RuntimeError(f"the calling node failed: {''.join(errors).strip()[-500:]}")
    figures: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return figures


def run_exchange_bench(
    seconds: float,
    connections: int,
    rounds: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Start an anchor and a serving node, drive them from the calling node's process."""
    with tempfile.TemporaryDirectory(prefix="digitalstate-bench-") as tmp:
        root = Path(tmp)
        anchor_config, server_config, client_config = _setup(root)
        server = load_node_settings(server_config)
        anchor = Child(
            "anchor",
            python_command("federation", "serve", "--config", str(anchor_config)),
            f"http://{HOST}:{_port_of(anchor_config)}",
            root / "anchor.log",
        )
        node = Child(
            "bench-server",
            bench_node_command(server_config),
            server.node.base_url,
            root / "server.log",
        )
        children = [anchor, node]
        try:
            anchor.start()
            wait_until([anchor], "/healthz", time.monotonic() + 30)
            node.start()
            wait_until([node], "/readyz", time.monotonic() + 30)
            result = _drive(client_config, seconds, connections, rounds, on_progress)
        finally:
            stop_all(children)
    return result


def _port_of(anchor_config: Path) -> int:
    from digitalstate.settings import load_anchor_settings

    return load_anchor_settings(anchor_config).anchor.port
