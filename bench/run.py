"""Run every benchmark in bench/targets.toml and compare its figures with their targets.

Usage: python bench/run.py [NAME ...]   (default: all). Prints one table per benchmark, the raw
JSON and the one-minute load average before and after each run, so the figures can be copied
into docs/benchmarks.md. Exits 1 if a benchmark fails to run; a missed target is reported, not
an error, because the machines are shared and noisy.

A target is a figure's `min` or `max`; with `of = "OTHER"` it is the figure divided by the same
figure of the benchmark OTHER run earlier in the same invocation (for example reads/s at ten
million people as a share of reads/s at one million), so that the two are measured side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def check(
    figures: dict[str, Any],
    targets: dict[str, dict[str, Any]],
    earlier: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """One line per target: the figure, the target and whether it is met.

    earlier holds the figures of the benchmarks already run, by name, for targets with `of`.
    """
    lines = []
    for name, target in targets.items():
        value = figures.get(name)
        if "of" in target:
            other = (earlier or {}).get(target["of"], {}).get(name)
            if other is None:
                why = f"run {target['of']} in the same invocation to compare"
                lines.append(f"  {name:<24} {'':>12}  not compared  ({why})")
                continue
            value = round(value / other, 3) if value is not None and other else None
            name = f"{name} / {target['of']}"
        if "min" in target:
            met = value is not None and value >= target["min"]
            wanted = f">= {target['min']}"
        else:
            met = value is not None and value <= target["max"]
            wanted = f"<= {target['max']}"
        verdict = "met" if met else "MISSED"
        why = target["why"]
        lines.append(f"  {name:<24} {value!s:>12}  target {wanted:<10} {verdict}  ({why})")
    return lines


def main(names: list[str]) -> int:
    """Run the named benchmarks (all when none are named)."""
    config = tomllib.loads((HERE / "targets.toml").read_text())
    earlier: dict[str, dict[str, Any]] = {}
    for name, spec in config.items():
        if names and name not in names:
            continue
        command = [sys.executable, "-m", "digitalstate", *spec["command"]]
        print(f"$ digitalstate {' '.join(spec['command'])}", flush=True)
        load_before = os.getloadavg()[0]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        print(f"  load average {load_before:.2f} -> {os.getloadavg()[0]:.2f}")
        if done.returncode != 0:
            print(done.stderr.strip(), file=sys.stderr)
            return 1
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(figures))
        print("\n".join(check(figures, spec["targets"], earlier)))
        earlier[name] = figures
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
