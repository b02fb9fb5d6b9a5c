"""How the transparency log is installed: on every node (docs/adr/0010).

The sequencer integrates this node's entries and signs checkpoints; the public routes serve
checkpoints and proofs; the exchange routes take witnesses' cosignatures and give the charter a
person's entries with proofs.
"""

from __future__ import annotations

from fastapi import FastAPI

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.transparency.api import make_exchange_router, make_public_router
from digitalstate.transparency.sequencer import run_sequencer


def install(app: FastAPI, node: NodeRuntime) -> None:
    """Add the log's routes and its sequencer to a node."""
    app.include_router(make_public_router(node))
    app.include_router(make_exchange_router(node))

    async def sequencer() -> None:
        await run_sequencer(node)

    node.background.append(sequencer)


FEATURE = Feature(name="transparency", roles=frozenset({"*"}), install=install)
