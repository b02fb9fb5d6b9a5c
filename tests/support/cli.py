"""The `digitalstate` command run inside the test process (Typer's CliRunner), and what its
answers must be.

The CLI is thin: a command run here goes through the same Typer app, options, settings loader
and exit codes as one typed at a shell, without paying a new interpreter's start-up (about
0.8 s of CPU) for each setup step. Tests that need a real process (signals, `node serve`, the
benchmarks, the console script itself) start one instead.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any
from unittest import mock

import typer.main
import typer.testing
from typer.testing import Result

from digitalstate.cli.main import app

_command = functools.cache(typer.main.get_command)


class CliRunner(typer.testing.CliRunner):
    """Typer's CliRunner, building an app's click command once rather than at every invoke.

    Typer builds the command anew from every command's signature each time (about 0.1 s of
    CPU for `digitalstate`); the command holds no state between runs, so one serves them all.
    """

    def invoke(
        self,
        app: typer.Typer,
        args: str | Sequence[str] | None = None,
        input: bytes | str | None = None,
        env: Mapping[str, str | None] | None = None,
        catch_exceptions: bool = True,
        color: bool = False,
        **extra: Any,
    ) -> Result:
        with mock.patch.object(typer.testing, "_get_command", _command):
            return super().invoke(app, args, input, env, catch_exceptions, color, **extra)


runner = CliRunner()


def invoke(
    *args: object, input: str | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """Run `digitalstate args...` with input on standard input; env sets (None: unsets)
    variables meanwhile."""
    return runner.invoke(app, [str(a) for a in args], input=input, env=dict(env or {}))


def succeeds(*args: object, input: str | None = None) -> str:
    """Run a command that must succeed; its standard output."""
    result = invoke(*args, input=input)
    assert result.exit_code == 0, f"{args} failed: {result.output}"
    assert result.exception is None
    return result.stdout


def fails(*args: object, input: str | None = None) -> str:
    """Run a command that must fail in one line on stderr with exit code 1; return the line."""
    result = invoke(*args, input=input)
    assert isinstance(result.exception, SystemExit), f"{args} crashed: {result.exception!r}"
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr}"
    assert lines[0].startswith("digitalstate: error: ")
    return lines[0]


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
