"""How the registers feature is installed on a node (docs/adr/0008)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.exchange.server import direct_calls
from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.registers.api import make_api_router
from digitalstate.registers.pages import make_pages_router
from digitalstate.routing import install_routes


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the register's exchange routes and the person's pages to a node."""
    install_routes(app, make_api_router(node, direct_calls(app.state)))
    # Every register shows a signed-in person what it holds about them (/my/details), even
    # when none of its fields can be changed there.
    install_routes(app, make_pages_router(node, templates))


FEATURE = Feature(name="registers", roles=frozenset({"register"}), install=install)
