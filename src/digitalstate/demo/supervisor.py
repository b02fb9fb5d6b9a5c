"""Run several node processes, wait until they answer, and stop them all cleanly.

Each child is its own OS process. A child running `digitalstate ...` with this interpreter
(python_command) is forked from a fork server that has imported digitalstate once (forking.py),
where the system has one; any other command is started as a new program. On Linux each child
also asks the kernel to send it SIGTERM if its parent dies (PR_SET_PDEATHSIG), so even a
supervisor killed with SIGKILL leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from digitalstate.demo.forking import ForkedProcess, can_fork
from digitalstate.web.serving import die_with_parent

PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """One supervised process and where it answers."""

    name: str
    args: list[str]
    url: str
    log_path: Path
    process: subprocess.Popen[bytes] | ForkedProcess | None = None
    # Forked from the fork server when it runs `digitalstate` (demo/forking.py); off for a
    # process that starts processes of its own (a node with several workers).
    fork: bool = True
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str] | None = None) -> None:
        """Start the process (env: this process's environment by default), output to its log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        interpreter = python_command()
        if self.fork and self.args[: len(interpreter)] == interpreter and can_fork():
            command = self.args[len(interpreter) :]
            environment = env if env is not None else dict(os.environ)
            self.process = ForkedProcess(command, environment, self.log_path)
            return
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=die_with_parent,
        )

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the child's log, to explain a failure."""
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def close_log(self) -> None:
        """Close the log file handle."""
        if self._log is not None:
            self._log.close()
            self._log = None


class StartError(RuntimeError):
    """A child did not start or did not answer in time."""


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when GET url answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class StartCancelled(StartError):  # noqa: N818 - a request to stop, not a failure
    """Told to stop (Ctrl-C, SIGTERM) while waiting for children to start."""


def wait_until(
    children: Sequence[Child],
    path: str,
    deadline: float,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[Child], None] | None = None,
) -> None:
    """Wait until every child answers 200 at path, or raise StartError.

    Raises StartCancelled as soon as stop is set, so a supervisor told to stop while its
    children start does not first wait for all of them.
    """
    pending = list(children)
    while pending:
        for child in list(pending):
            # Liveness first: a child that Ctrl-C stopped too is no failure once stop is set.
            alive = child.alive()
            if stop is not None and stop.is_set():
                raise StartCancelled(f"stopped while waiting for {child.name}")
            if not alive:
                raise StartError(f"{child.name} exited while starting: {child.log_tail()}")
            if answers(child.url + path):
                pending.remove(child)
                if on_ready is not None:
                    on_ready(child)
        if pending and time.monotonic() > deadline:
            names = ", ".join(c.name for c in pending)
            raise StartError(f"not answering {path} in time: {names}")
        if pending:
            if stop is not None:
                stop.wait(0.1)
            else:
                time.sleep(0.1)


def stop_all(children: Sequence[Child], grace: float = 10.0) -> None:
    """SIGTERM every child, wait up to grace seconds, then SIGKILL what is left."""
    for child in children:
        if child.alive() and child.process is not None:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                child.process.kill()
            child.process.wait()
        child.close_log()


def python_command(*args: str) -> list[str]:
    """The command line that runs `digitalstate ARGS` with this interpreter (a Child forks it)."""
    return [sys.executable, "-m", "digitalstate", *args]


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment with overrides."""
    env = dict(os.environ)
    env.update(overrides)
    return env
