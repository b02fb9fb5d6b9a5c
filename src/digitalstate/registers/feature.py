"""How the registers feature is installed on a node (docs/adr/0008)."""

from __future__ import annotations

from fastapi import FastAPI

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime


def install(app: FastAPI, node: NodeRuntime) -> None:
    """Add this feature's routes and background work to a node."""
    # Scaffolding while issue 3 is built: the feature's own routes are added here.
    del app, node


FEATURE = Feature(name="registers", roles=frozenset({"register"}), install=install)
