"""The `digitalstate` command run in-process (Typer's CliRunner), and what its answers must be."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from digitalstate.cli.main import app

runner = CliRunner()


def invoke(*args: object, input: str | None = None) -> Result:
    """Run `digitalstate args...` with input on standard input."""
    return runner.invoke(app, [str(a) for a in args], input=input)


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
