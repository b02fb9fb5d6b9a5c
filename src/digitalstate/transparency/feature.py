"""How the transparency log is installed: on every node (docs/adr/0010).

The sequencer integrates this node's entries and signs checkpoints; the public routes serve
checkpoints and proofs; the exchange routes take witnesses' cosignatures and give the charter a
person's entries with proofs. The witness checks, audits and cosigns the other members' logs;
the operator's log page (/operator/log) shows this node's log, the logs it witnesses and their
alarms.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.roles import SEQUENCER, WITNESS
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes
from digitalstate.transparency.api import make_exchange_router, make_public_router
from digitalstate.transparency.metrics import LogStateCollector, log_metrics
from digitalstate.transparency.pages import make_pages_router
from digitalstate.transparency.sequencer import run_sequencer
from digitalstate.transparency.witness_service import run_witness


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the log's routes, its sequencer, the witness and the operator's page to a node."""
    install_routes(app, make_public_router(node))
    install_routes(app, make_exchange_router(node))
    install_routes(app, make_pages_router(node, templates))
    log_metrics(node.metrics)
    node.metrics.register(LogStateCollector(node.engine))

    async def sequencer() -> None:
        await run_sequencer(node)

    async def witness() -> None:
        await run_witness(node)

    node.exclusive(SEQUENCER, sequencer)
    node.exclusive(WITNESS, witness)


FEATURE = Feature(name="transparency", roles=frozenset({"*"}), install=install)
