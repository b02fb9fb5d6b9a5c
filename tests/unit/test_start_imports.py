"""What a process imports to start a node: not statsmodels (SciPy under it), which costs about
a second of CPU and is needed only when an experiment's figures are computed."""

from __future__ import annotations

import subprocess
import sys

from digitalstate.node.features import FEATURE_MODULES

HEAVY = ("statsmodels", "scipy")


def test_a_node_starts_without_importing_statsmodels_or_scipy() -> None:
    modules = ["digitalstate.app", "digitalstate.cli.main", *FEATURE_MODULES]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
