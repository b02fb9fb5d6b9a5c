"""Helpers for end-to-end tests: real processes on loopback, polled rather than slept on."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from digitalstate.demo.supervisor import Child, stop_all, wait_until
from digitalstate.federation.service import add_member
from digitalstate.keys import KeyPair
from digitalstate.settings import load_anchor_settings, load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions
from support.cli import completed, hermetic, invoke

HOST = "127.0.0.1"
CLI = [sys.executable, "-m", "digitalstate"]
START_TIMEOUT_S = 30.0
# A node of several workers spawns a fresh interpreter per worker, each importing the app:
# slower than a fork of the fork server, which has imported it already.
SPAWNED_START_TIMEOUT_S = 150.0
PR_SET_PDEATHSIG = 1

T = TypeVar("T")

# Ports handed out in this test run, so that two fixtures never get the same one.
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def port_is_free(port: int) -> bool:
    """True when nothing listens on port and it can be bound again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((HOST, port)) == 0:
            return False
    return _bindable(port)


def _unused_by_the_kernel() -> tuple[int, int]:
    """A range of ports below the kernel's ephemeral range (20000-32000 if it is unknown)."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 20_000, 32_000
    if ephemeral_low < 12_000:
        return 20_000, 32_000
    return max(10_000, ephemeral_low - 12_000), ephemeral_low


def _this_workers_share(low: int, high: int) -> tuple[int, int]:
    """The part of [low, high) that this pytest-xdist worker hands out (all of it without xdist).

    Workers check and hand out ports independently: with disjoint ranges two of them can never
    give the same port to processes that bind it a moment later.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count <= 1:
        return low, high
    share = (high - low) // count
    start = low + int(worker[2:]) * share
    return start, start + share


def free_port_block(count: int) -> int:
    """The first of count consecutive free loopback ports, below the ephemeral range.

    Below the kernel's ephemeral range, so that the port-0 sockets other tests open meanwhile
    cannot take one of them between this check and the process that binds them.
    """
    low, high = _this_workers_share(*_unused_by_the_kernel())
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(low, high - count)
        block = range(base, base + count)
        if any(p in _handed_out for p in block):
            continue
        if all(_bindable(p) for p in block):
            _handed_out.update(block)
            return base
    raise RuntimeError(f"no block of {count} free ports found")


def free_port() -> int:
    """One free loopback port."""
    return free_port_block(1)


# Every process these tests start on PostgreSQL shares one server, and its max_connections
# (100 here), with the other workers' tests. At the production pools (10 kept, 10 more for a
# while) the nine nodes of one test held 55 connections at once, and another test's node was
# refused ("too many clients already"): each keeps at most five here.
SMALL_POOLS = {"DIGITALSTATE_DATABASE__POOL_SIZE": "3", "DIGITALSTATE_DATABASE__MAX_OVERFLOW": "2"}


# What a demo's nodes do while no request comes, which tests that keep one running spend most
# of their time not doing: the sequencer looks for entries to integrate every 0.25 s by default
# (1 s here: an access is in its log at most 1 s after it is made), the tell-us-once worker for
# notices due every 1 s when not woken (10 s; a notice made at the node wakes it), and each node
# asks the anchor for a newer document every 10 s (60 s; no test changes it while a demo runs).
# Left idle, with its witnesses every 15 s, the browser tests' demo used 4.9 s of CPU in 30 s at
# the defaults and 3.0 s with these (2026-12-06).
QUIET_DEMO = {
    "DIGITALSTATE_LOG__MAX_WAIT_SECONDS": "1",
    "DIGITALSTATE_TELLUSONCE__POLL_SECONDS": "10",
    "DIGITALSTATE_FEDERATION__REFRESH_SECONDS": "60",
}


def hermetic_env(**overrides: str) -> dict[str, str]:
    """This environment without any DIGITALSTATE_ setting, plus small database pools
    (SMALL_POOLS) and overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITALSTATE_")}
    env.update(SMALL_POOLS)
    env.update(overrides)
    return env


def flags(**options: object) -> list[str]:
    """Command-line options from keywords: flags(anchor_url=U) is ["--anchor-url", U]."""
    out: list[str] = []
    for name, value in options.items():
        out += ["--" + name.replace("_", "-"), str(value)]
    return out


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    check: bool = True,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `digitalstate ARGS`, failing the test with its output if it fails and check is set.

    It runs in this process (support.cli) unless process is set or env is given: then in a new
    interpreter, bounded by timeout, for what needs a real process (the benchmarks, `node
    serve`, signals).
    """
    if process or env is not None:
        result = subprocess.run(
            [*CLI, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else hermetic_env(),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    else:
        result = completed(args, invoke(*args, env=hermetic()))
    if check and result.returncode != 0:
        raise AssertionError(
            f"digitalstate {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def operator_headers(config: Path) -> dict[str, str]:
    """Issue the node's operator token with the CLI; the header that carries it."""
    issued = run_cli("node", "operator-token", "--config", str(config))
    return {"authorization": f"Bearer {issued.stdout.strip().splitlines()[-1]}"}


def run_cli_each(commands: Iterable[list[str]]) -> None:
    """Run several `digitalstate` commands, one after another in this process; fail if any fails."""
    for args in commands:
        run_cli(*args)


def add_members(anchor_config: Path, node_configs: Iterable[Path]) -> None:
    """Add each node to the federation, as `federation add-member --node-config` does, in one
    transaction of the anchor's database (the anchor is not serving yet).

    The same use case the command runs (federation.service.add_member), without starting a
    process per member: one after another, those took seconds each on a busy machine.
    """
    settings = load_anchor_settings(anchor_config)
    anchor = KeyPair.load(settings.key_path)
    validity = timedelta(hours=settings.anchor.validity_hours)
    now = datetime.now(UTC).replace(microsecond=0)
    engine = make_engine(settings.database_url)
    try:
        with make_sessions(engine).begin() as session:
            for config in node_configs:
                node = load_node_settings(config)
                add_member(
                    session,
                    anchor,
                    member_id=node.node.id,
                    name=node.node.name,
                    roles=list(node.node.roles),
                    base_url=node.node.base_url.rstrip("/"),
                    public_key=KeyPair.load(node.key_path).public,
                    now=now,
                    validity=validity,
                )
    finally:
        engine.dispose()


def die_with_parent() -> None:  # runs in the child between fork and exec
    """Ask the kernel to SIGTERM this process when the test process dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll probe until it returns something truthy; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class HttpAnswer:
    """A plain HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def http_get(
    url: str, timeout: float = 30.0, headers: Mapping[str, str] | None = None
) -> HttpAnswer:
    """GET url (with headers), whatever the status."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        with error:
            return HttpAnswer(
                error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
            )


def answers_ok(url: str) -> bool:
    """True when GET url answers 200."""
    try:
        return http_get(url, timeout=1.0).status == 200
    except OSError:
        return False


# --- processes ---------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and parent pid, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def pid_running(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def children_of(pid: int) -> list[int]:
    """The running (non-zombie) processes whose parent is pid."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[1] == pid and stat[0] != "Z":
            out.append(int(entry.name))
    return sorted(out)


def descendants_of(pid: int) -> list[int]:
    """The running processes under pid: its children, theirs (a fork server's), and so on."""
    found: list[int] = []
    pending = [pid]
    while pending:
        children = children_of(pending.pop())
        found += children
        pending += children
    return sorted(found)


def cmdline(pid: int) -> list[str]:
    """A process's command line; a forked node's is its title, `digitalstate node serve ...`."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    parts = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    return parts[0].split() if len(parts) == 1 else parts


class Processes:
    """Node processes started by a test, every one stopped when the test ends."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[Child] = []

    def start(
        self,
        name: str,
        args: list[str],
        url: str,
        env: Mapping[str, str] | None = None,
        *,
        fork: bool = True,
    ) -> Child:
        """Start `digitalstate ARGS` as a process answering at url (forked: demo/forking.py;
        fork False for a node of several workers, which starts processes of its own)."""
        log = self.logs / f"{name}-{len(self.children)}.log"
        child = Child(name, [*CLI, *args], url, log, fork=fork)
        child.start(dict(env) if env is not None else hermetic_env())
        self.children.append(child)
        return child

    def serve_anchor(self, config: Path, url: str, **env: str) -> Child:
        """Run a trust anchor and wait until it answers /readyz."""
        child = self.start(
            "anchor", ["federation", "serve", "--config", str(config)], url, hermetic_env(**env)
        )
        self.wait_ready(child)
        return child

    def serve_node(
        self, name: str, config: Path, url: str, *, ready: bool = True, **env: str
    ) -> Child:
        """Run a node; wait until it answers /readyz (or only /healthz when not ready)."""
        child = self.start(
            name, ["node", "serve", "--config", str(config)], url, hermetic_env(**env)
        )
        self.wait_ready(child, "/readyz" if ready else "/healthz")
        return child

    def wait_ready(self, child: Child, path: str = "/readyz") -> None:
        """Wait until child answers 200 at path."""
        bound = START_TIMEOUT_S if child.fork else SPAWNED_START_TIMEOUT_S
        wait_until([child], path, time.monotonic() + bound)

    def stop(self, child: Child) -> None:
        """Stop one child now."""
        stop_all([child], grace=10.0)

    def close(self) -> None:
        """Stop every child."""
        stop_all(self.children, grace=10.0)


@contextlib.contextmanager
def processes(logs: Path) -> Iterator[Processes]:
    """Processes stopped on the way out, whatever happens."""
    group = Processes(logs)
    try:
        yield group
    finally:
        group.close()
