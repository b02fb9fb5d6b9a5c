"""`digitalstate bench consent`: consented reads at a register holding N people and N consents.

Processes, all on loopback: a trust anchor; the holder (`people-register`, role register,
with the bench mirror); subscriber nodes (role service; ten unless --subscribers says) for
the fan-out; and the requester's load process (`bench-client`, see consent_load.py). The
holder's database (SQLite in the run's temporary directory, or a fresh schema of
--database-url) is filled before any node starts (consent_fill.py).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from digitalstate.benchmarks.anchor import bench_anchor
from digitalstate.benchmarks.app import bench_node_command
from digitalstate.benchmarks.consent_fill import HOLDER, REQUESTER, Fill, fill_holder
from digitalstate.benchmarks.load import percentile
from digitalstate.benchmarks.ports import free_port
from digitalstate.benchmarks.schemas import fresh_postgres_schema
from digitalstate.demo.supervisor import Child, child_env, python_command, stop_all, wait_until
from digitalstate.federation.service import add_node_member
from digitalstate.keys import KeyPair
from digitalstate.node.setup import init_node
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine, make_sessions

HOST = "127.0.0.1"
QUIET = {"server": {"log_level": "warning", "access_log": False}}
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Options:
    """What to run: how many people, seconds of reads, connections, changes, which database."""

    people: int
    seconds: float
    connections: int = 32
    rounds: int = 2
    changes: int = 30
    database_url: str | None = None
    subscribers: int = 10
    # More than 1: the reads are measured again with the holder served by this many workers
    # (PostgreSQL only), and both figures are reported side by side.
    workers: int = 1

    def subscriber_ids(self) -> list[str]:
        """The subscriber nodes' member ids: bench-subscriber-01, -02, ..."""
        return [f"bench-subscriber-{n:02d}" for n in range(1, self.subscribers + 1)]


@dataclass
class Federation:
    """The run's anchor and nodes, set up but not started."""

    anchor_config: Path
    anchor_url: str
    holder: NodeSettings
    requester: Path
    subscribers: list[NodeSettings]


def _setup(root: Path, holder_database: str, subscribers: list[str]) -> Federation:
    now = datetime.now(UTC)
    anchor_settings, anchor_key = bench_anchor(root / "anchor", now)
    nodes = [(HOLDER, "register", QUIET, holder_database), (REQUESTER, "service", QUIET, "")]
    nodes += [(member, "service", QUIET, "") for member in subscribers]
    made: list[NodeSettings] = []
    for member_id, role, extra, database in nodes:
        node_port = free_port()
        made.append(
            init_node(
                root / member_id,
                member_id=member_id,
                name=member_id,
                roles=[role],
                host=HOST,
                port=node_port,
                base_url=f"http://{HOST}:{node_port}",
                anchor_url=anchor_settings.anchor.base_url,
                anchor_public_key=anchor_key.public.b64,
                database_url=database,
                extra=extra,  # type: ignore[arg-type]
            )
        )
    _add_members(anchor_settings.database_url, anchor_key, made, now)
    return Federation(
        anchor_config=root / "anchor" / "anchor.toml",
        anchor_url=anchor_settings.anchor.base_url,
        holder=made[0],
        requester=made[1].config_path or root / REQUESTER / "node.toml",
        subscribers=made[2:],
    )


def _add_members(
    anchor_database: str, anchor_key: KeyPair, nodes: list[NodeSettings], now: datetime
) -> None:
    engine = make_engine(anchor_database)
    with make_sessions(engine).begin() as session:
        for node in nodes:
            add_node_member(session, anchor_key, node, now=now, validity=timedelta(hours=2))
    engine.dispose()


@contextmanager
def _fresh_schema(url: str | None) -> Iterator[str]:
    """'' (the holder's own SQLite file), or url made to work in a fresh PostgreSQL schema."""
    if url is None:
        yield ""
        return
    with fresh_postgres_schema(url, "bench") as scoped:
        yield scoped


def run_consent_bench(options: Options, on_progress: Progress | None = None) -> dict[str, Any]:
    """Fill the holder, start the federation, measure reads and fan-out; return the figures."""
    report = on_progress or (lambda _stage, _done, _total: None)
    with (
        tempfile.TemporaryDirectory(prefix="digitalstate-bench-") as tmp,
        _fresh_schema(options.database_url) as database,
    ):
        root = Path(tmp)
        federation = _setup(root, database, options.subscriber_ids())
        secret = secrets.token_bytes(32)
        began = time.perf_counter()
        fill = fill_holder(
            federation.holder.database_url,
            people=options.people,
            secret=secret,
            subscribers=options.subscriber_ids(),
            now=datetime.now(UTC),
            on_chunk=lambda done: report("fill", done, options.people),
        )
        fill_seconds = time.perf_counter() - began
        children = _children(root, federation)
        try:
            _start(children)
            reads = _drive(federation.requester, options, fill, secret, report)
            timings = _get(federation.holder.node.base_url + "/bench/unsigned/timings")
            fanout = _fanout(federation.holder.node.base_url, fill, options.changes, report)
            compared = {}
            if options.workers > 1:
                children[1] = _restart_holder(children[1], options.workers)
                more = _drive(federation.requester, options, fill, secret, report)
                compared = _side_by_side(options.workers, reads, more)
        finally:
            stop_all(children)
    return {
        "people": options.people,
        "consents": options.people,
        "fanout_consents": fill.fanout_consents,
        **reads,
        "consent_check_p99_ms": timings["p99_ms"],
        "consent_check_p50_ms": timings["p50_ms"],
        "consent_checks_timed": timings["count"],
        **fanout,
        "fill_seconds": round(fill_seconds, 1),
        "database": "postgresql" if options.database_url else "sqlite",
        "seconds": options.seconds,
        **compared,
    }


def _restart_holder(holder: Child, workers: int) -> Child:
    """Stop the holder and serve it again with workers worker processes; wait until ready."""
    stop_all([holder])
    again = Child(
        holder.name,
        holder.args,
        holder.url,
        holder.log_path.with_name(f"{holder.name}-{workers}-workers.log"),
        fork=False,  # a node of several workers starts processes of its own
    )
    again.start(child_env(DIGITALSTATE_SERVER__WORKERS=str(workers)))
    wait_until([again], "/readyz", time.monotonic() + 120)
    return again


def _side_by_side(workers: int, one: dict[str, Any], many: dict[str, Any]) -> dict[str, Any]:
    """The reads/s of the holder with 1 worker and with workers, as figures of their own."""
    figures: dict[str, Any] = {"workers": workers}
    for name in ("consented_reads_rps", "bare_reads_rps"):
        figures[f"{name}_1_worker"] = one[name]
        figures[f"{name}_{workers}_workers"] = many[name]
    figures[f"errors_{workers}_workers"] = many["errors"]
    return figures


def _children(root: Path, federation: Federation) -> list[Child]:
    anchor = Child(
        "anchor",
        python_command("federation", "serve", "--config", str(federation.anchor_config)),
        federation.anchor_url,
        root / "anchor.log",
    )
    nodes = [
        Child(
            node.node.id,
            _serve_command(node, bench=node is federation.holder),
            node.node.base_url,
            root / f"{node.node.id}.log",
        )
        for node in [federation.holder, *federation.subscribers]
    ]
    return [anchor, *nodes]


def _serve_command(node: NodeSettings, *, bench: bool) -> list[str]:
    """The holder serves the bench routes too (benchmarks/app.py); a subscriber is plain."""
    config = str(node.config_path)
    if bench:
        return bench_node_command(config)
    return python_command("node", "serve", "--config", config)


def _start(children: list[Child]) -> None:
    anchor, nodes = children[0], children[1:]
    anchor.start()
    wait_until([anchor], "/healthz", time.monotonic() + 30)
    for child in nodes:
        child.start()
    wait_until(nodes, "/readyz", time.monotonic() + 120)


def _drive(
    requester: Path, options: Options, fill: Fill, secret: bytes, report: Progress
) -> dict[str, Any]:
    """Run the requester's load process, relaying its progress; return its figures."""
    command = [
        sys.executable, "-m", "digitalstate.benchmarks.consent_load", str(requester),
        str(options.people), secret.hex(), str(fill.prefix), str(options.seconds),
        str(options.connections), str(options.rounds),
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as load:
        assert load.stderr is not None and load.stdout is not None
        errors: list[str] = []
        read_errors: dict[str, int] = {}
        for line in load.stderr:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "progress":
                report("reads", int(parts[1]), int(parts[2]))
            elif parts and parts[0] == "error":
                kind = line.strip()[:120]
                read_errors[kind] = read_errors.get(kind, 0) + 1
            elif parts:
                errors.append(line)
        output = load.stdout.read()
        if load.wait(timeout=options.seconds * 3 + 60) != 0:
            raise RuntimeError(f"the requesting node failed: {''.join(errors).strip()[-500:]}")
    figures: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    figures["error_kinds"] = read_errors
    return figures


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback http
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback http
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _fanout(base_url: str, fill: Fill, changes: int, report: Progress) -> dict[str, Any]:
    """Change the fan-out person's address changes times; seconds until all were told."""
    durations: list[float] = []
    report("fan-out", 0, changes)
    for n in range(changes):
        address = {"lines": [f"{n + 1} Fanout Road"], "town": "Leeds", "postcode": "LS1 4AP"}
        change = {"pseudonym": fill.fanout_pseudonym, "changes": {"people.address": address}}
        made = _post(base_url + "/bench/unsigned/change", change)
        committed = datetime.fromisoformat(made["committed_at"])
        told = _wait_told(base_url, fill.fanout_pseudonym, made["version"], fill.fanout_consents)
        durations.append((max(told) - committed).total_seconds())
        report("fan-out", n + 1, changes)
    durations.sort()
    return {
        "fanout_p99_s": round(percentile(durations, 0.99), 4),
        "fanout_p50_s": round(percentile(durations, 0.50), 4),
        "fanout_changes": changes,
        "fanout_subscribers": fill.fanout_consents,
    }


def _wait_told(base_url: str, pseudonym: str, version: int, expected: int) -> list[datetime]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        told = _get(f"{base_url}/bench/unsigned/told/{pseudonym}/{version}")["told"]
        delivered = [row["delivered_at"] for row in told if row["delivered_at"]]
        if len(told) == expected and len(delivered) == expected:
            return [datetime.fromisoformat(at) for at in delivered]
        time.sleep(0.01)
    raise RuntimeError(f"a change was not told to all {expected} subscribers within 60 s")
