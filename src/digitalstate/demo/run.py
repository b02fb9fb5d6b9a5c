"""Run the demo federation: the anchor, then the nodes, each its own process; watch; stop.

`digitalstate demo` (cli/demo.py) parses the options, shows progress and prints; this module
does the rest.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from digitalstate.demo.federation import (
    DEMO_NODES,
    DEMO_STAFF_PASSWORD,
    HOST,
    MAIL_CATCHER,
    DemoLayout,
    demo_staff_email,
    seeded_people,
)
from digitalstate.demo.seed import DEMO_PASSWORD
from digitalstate.demo.supervisor import Child, python_command, wait_until
from digitalstate.demo.synthetic import sample_email
from digitalstate.staff.domain import ROLES
from digitalstate.staff.sessions import SIGN_IN_PATH as STAFF_SIGN_IN_PATH
from digitalstate.web.operator_token import keep_operator_token

START_TIMEOUT_S = 60.0


def children(layout: DemoLayout) -> tuple[list[Child], list[Child]]:
    """The processes that start first (the trust anchor, the mail catcher), then each node's.

    None is started yet.
    """
    logs = layout.data_dir / "logs"
    anchor = Child(
        "trust-anchor",
        python_command("federation", "serve", "--config", str(layout.anchor_config)),
        layout.anchor_url,
        logs / "trust-anchor.log",
    )
    catcher = Child(
        MAIL_CATCHER,
        python_command(
            "mail",
            "catch",
            "--data-dir",
            str(layout.catcher_dir),
            "--host",
            HOST,
            "--port",
            str(layout.catcher_port),
            "--smtp-port",
            str(layout.catcher_smtp_port),
        ),
        layout.catcher_url,
        logs / f"{MAIL_CATCHER}.log",
    )
    nodes = [
        Child(
            node.id,
            python_command("node", "serve", "--config", str(layout.node_config(node))),
            layout.url(node),
            logs / f"{node.id}.log",
        )
        for node in DEMO_NODES
    ]
    return [anchor, catcher], nodes


def sign_in(layout: DemoLayout) -> dict[str, str] | None:
    """How to sign in as the first sample person, once people are seeded."""
    if not seeded_people(layout):
        return None
    charter = next(n for n in DEMO_NODES if "charter" in n.roles)
    return {"url": layout.url(charter), "email": sample_email(0), "password": DEMO_PASSWORD}


def staff_accounts(layout: DemoLayout) -> list[dict[str, str]]:
    """The demo's members of staff: at each service node a caseworker and a manager."""
    return [
        {
            "node": node.id,
            "role": role,
            "email": demo_staff_email(node.id, role),
            "password": DEMO_STAFF_PASSWORD,
            "url": layout.url(node) + STAFF_SIGN_IN_PATH,
        }
        for node in DEMO_NODES
        if "service" in node.roles
        for role in ROLES
    ]


def issue_operator_token(layout: DemoLayout) -> str:
    """One fresh operator token for every demo node's /operator/ pages and /metrics.

    The mail catcher's page takes the same token.
    """
    token = secrets.token_urlsafe(24)
    for node in DEMO_NODES:
        keep_operator_token(layout.node_dir(node), token)
    keep_operator_token(layout.catcher_dir, token)
    return token


def start(
    first: Sequence[Child],
    nodes: Sequence[Child],
    stopping: threading.Event,
    on_ready: Callable[[Child], None] | None = None,
    timeout: float = START_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> None:
    """Start first (anchor, mail catcher) and wait for /healthz, then the nodes and /readyz,
    each group within timeout seconds; env: the children's environment (default this one's).

    Raises StartError when one does not answer in time, StartCancelled once stopping is set.
    """
    for child in first:
        child.start(dict(env) if env is not None else None)
    wait_until(
        first,
        "/healthz",
        time.monotonic() + timeout,
        stop=stopping,
        on_ready=on_ready,
    )
    for child in nodes:
        child.start(dict(env) if env is not None else None)
    wait_until(
        nodes,
        "/readyz",
        time.monotonic() + timeout,
        stop=stopping,
        on_ready=on_ready,
    )


def stop_on_signal(stopping: threading.Event) -> Callable[[int, FrameType | None], None]:
    """A signal handler that sets stopping, from a thread of its own.

    Python runs a handler in the main thread between two of its bytecodes: while the main
    thread is inside stopping.wait(), holding the event's lock (not re-entrant), or inside a
    first handler's stopping.set(). Setting the event there waited for a lock the same thread
    held, for ever: a demo sent SIGTERM twice (or once, at the wrong instant) hung and never
    stopped its nodes. The thread waits for the lock until the main thread lets it go.
    """

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=stopping.set, name="stop-on-signal", daemon=True).start()

    return on_signal


def watch(everyone: Sequence[Child], stopping: threading.Event) -> list[str]:
    """Wait until stopping is set (then []) or a child stops (then the names of those stopped)."""
    while not stopping.wait(0.5):
        dead = [c.name for c in everyone if not c.alive()]
        if dead:
            return dead
    return []
