"""`digitalstate` processes for tests, forked from one interpreter that has imported it already.

A node started with `python -m digitalstate node serve` spends about 0.9 s of CPU importing
FastAPI, SQLAlchemy, pydantic and the app before it does anything, and the end-to-end tests
start well over a hundred. Here a multiprocessing fork server per test process imports them
once; each node is then a fork of it: still its own process, with its own pid, environment,
database, key, port and log file, stopped by the same signals, and running the same `digitalstate`
command (the Typer app, its options and settings). Tests about the command line itself (the
console script, `python -m digitalstate`, the demo's children) start real interpreters instead.
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
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
PRELOAD = ["digitalstate.app", "digitalstate.cli.main", "uvicorn"]

_context: ForkServerContext | None = None


def _fork_server() -> ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _context = context
    return _context


def _run(args: Sequence[str], env: Mapping[str, str], log_path: str) -> None:
    """In the child: output to the log, this environment, then `digitalstate ARGS`."""
    with contextlib.suppress(OSError, AttributeError):  # SIGTERM when the fork server dies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
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


class ForkedProcess:
    """A forked `digitalstate` process, with the parts of subprocess.Popen the tests use."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = ["digitalstate", *args]
        self._process: Any = _fork_server().Process(
            target=_run, args=(list(args), dict(env), str(log_path)), daemon=True
        )
        self._process.start()
        self.pid: int = self._process.pid

    @property
    def returncode(self) -> int | None:
        code: int | None = self._process.exitcode
        return code

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        code = self.returncode
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
