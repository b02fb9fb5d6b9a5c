"""`make bench`'s runner (bench/run.py) and its targets (bench/targets.toml).

The benchmarks themselves run in tests/e2e; here, that every target names a command the CLI
accepts and a comparison the runner can make, and that the runner's verdicts are right.
"""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer.main

from digitalstate.cli.main import app

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _runner()
CONFIG: dict[str, Any] = tomllib.loads((BENCH / "targets.toml").read_text())


@pytest.mark.parametrize("name", list(CONFIG))
def test_each_benchmark_is_a_command_the_cli_accepts(name: str) -> None:
    command: Any = typer.main.get_command(app)
    args = list(CONFIG[name]["command"])
    group = command.get_command(command.make_context("digitalstate", [args[0]]), args[0])
    bench = group.get_command(group.make_context(args[0], [args[1]]), args[1])
    assert bench is not None, args
    bench.make_context(args[1], args[2:])  # raises on an unknown option or a value out of range
    assert "--json" in args, "the runner reads one JSON object"


@pytest.mark.parametrize("name", list(CONFIG))
def test_each_target_says_why_and_compares_with_a_benchmark_run_before_it(name: str) -> None:
    names = list(CONFIG)
    for figure, target in CONFIG[name]["targets"].items():
        assert ("min" in target) != ("max" in target), (name, figure)
        assert target["why"].strip(), (name, figure)
        if "of" in target:
            assert target["of"] in names[: names.index(name)], (name, figure)


def test_a_figure_is_met_or_missed_against_its_minimum_or_maximum() -> None:
    targets = {
        "rps": {"min": 100, "why": "reads"},
        "p99_ms": {"max": 1, "why": "latency"},
    }
    met, missed = run.check({"rps": 100, "p99_ms": 1.5}, targets)
    assert met.split()[:4] == ["rps", "100", "target", ">="] and met.split()[5] == "met"
    assert "MISSED" in missed and "1.5" in missed
    (absent,) = run.check({}, {"rps": {"min": 1, "why": "reads"}})
    assert "MISSED" in absent


def test_a_ratio_target_divides_by_the_same_figure_of_an_earlier_run() -> None:
    targets = {"rps": {"of": "small", "min": 0.8, "why": "does not slow as it grows"}}
    (line,) = run.check({"rps": 850}, targets, {"small": {"rps": 1000}})
    assert line.split()[:4] == ["rps", "/", "small", "0.85"] and " met " in line
    (line,) = run.check({"rps": 700}, targets, {"small": {"rps": 1000}})
    assert "0.7" in line and "MISSED" in line
    (line,) = run.check({"rps": 700}, targets, {})
    assert "not compared" in line and "run small in the same invocation" in line
