"""`digitalstate` processes forked from one interpreter that has imported digitalstate already.

A node started with `python -m digitalstate node serve` spends about 0.9 s of CPU importing
FastAPI, SQLAlchemy, pydantic and the app before it does anything; the demo starts twelve such
processes, and the end-to-end tests well over a hundred. A multiprocessing fork server imports
them once per supervising process; each child is then a fork of it: still its own process,
with its own pid, environment, database, key, port and log file, stopped by the same signals,
running the same `digitalstate` command through the same Typer app. Its process title (what
`ps` and /proc/PID/cmdline show) is that command, `digitalstate node serve --config ...`.

The fork server is a fresh interpreter (never a fork of the caller, whatever threads the caller
runs) and exits when the process that started it does; each child asks the kernel for SIGTERM
when the fork server goes (PR_SET_PDEATHSIG, Linux), so a supervisor killed with SIGKILL
leaves nothing behind (but for a child forked in the instant before its fork server went,
which never hears of it). Two differences from subprocess.Popen: the fork server, not the
supervisor, reaps a child, so a signal sent the instant after it ended could reach a new
process given the same pid; and a child is a daemonic multiprocessing process, which may not
start processes of its own through multiprocessing (no node does).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from digitalstate.node.features import FEATURE_MODULES

PR_SET_PDEATHSIG = 1
# Everything a node imports before it serves: the app factory imports each feature only when a
# node is built (node/features.py), so without them here every forked node imported them
# again at its start (1.2-1.8 s of CPU each when statsmodels was imported with them).
PRELOAD = ["digitalstate.app", "digitalstate.cli.main", "uvicorn", *FEATURE_MODULES]

_context: ForkServerContext | None = None


def can_fork() -> bool:
    """True where a fork server can run (Linux, macOS, the BSDs; never Windows)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


def _fork_server() -> ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _context = context
    return _context


def _run(args: Sequence[str], env: Mapping[str, str], log_path: str) -> None:  # pragma: no cover
    """In the child: its title, output to the log, this environment, then `digitalstate ARGS`."""
    with contextlib.suppress(OSError, AttributeError):  # SIGTERM when the fork server dies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _let_the_fork_server_go()
    import setproctitle

    setproctitle.setproctitle(" ".join(["digitalstate", *args]))
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - the child's own
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["digitalstate", *args]
    from digitalstate.cli.main import app

    app(args=list(args), prog_name="digitalstate")


def _let_the_fork_server_go() -> None:  # pragma: no cover - runs in the child
    """Close this child's copy of the fork server's lifeline.

    The fork server exits when the write end of its "alive" pipe is closed everywhere, and
    multiprocessing gives each child a copy: while a node runs, the fork server would outlive
    a supervisor killed with SIGKILL, and so would the node. Only the supervisor keeps it now.
    """
    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


class ForkedProcess:
    """A forked `digitalstate ARGS` process, with the parts of subprocess.Popen supervisors use."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = ["digitalstate", *args]
        process: Any = _fork_server().Process(
            target=_run, args=(list(args), dict(env), str(log_path)), daemon=True
        )
        process.start()
        self._process = process
        self.pid: int = process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: the signal that ended it), None while it runs."""
        code: int | None = self._process.exitcode
        return code

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to end (subprocess.TimeoutExpired when it has not within timeout)."""
        self._process.join(timeout)
        code = self.returncode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        """Send sig, unless it has ended already."""
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)
