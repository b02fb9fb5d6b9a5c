"""The `digitalstate` command run inside the test process, as a person would type it.

The CLI is thin: a command run here goes through the same Typer app, options, settings loader
and exit codes as one typed at a shell, without paying a new interpreter's start-up (about
0.8 s of CPU) for each setup step. Tests that need a real process (signals, `node serve`, the
benchmarks, the console script itself) start one instead.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from click.testing import Result
from typer.testing import CliRunner

from digitalstate.cli.main import app

_runner = CliRunner()


def invoke(*args: object, env: Mapping[str, str | None] | None = None) -> Result:
    """Run `digitalstate ARGS` here; env sets (or, with None, unsets) variables meanwhile."""
    return _runner.invoke(app, [str(a) for a in args], env=dict(env or {}))


def hermetic(**overrides: str) -> dict[str, str | None]:
    """The variables to change so that no DIGITALSTATE_ setting of this process leaks in."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("DIGITALSTATE_")}
    return {**unset, **overrides}


def completed(args: tuple[object, ...], result: Result) -> subprocess.CompletedProcess[str]:
    """An in-process run as the CompletedProcess a subprocess would have given."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["digitalstate", *map(str, args)], result.exit_code, result.stdout, result.stderr
    )
