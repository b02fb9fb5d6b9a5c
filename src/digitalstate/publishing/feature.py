"""How open data publishing is installed: on every node (docs/opendata.md).

Features add the datasets they publish to `node.datasets` when installed (spending/feature.py
adds the node's payments); this feature serves whatever is there, read at request time.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.publishing.api import make_exchange_router, make_public_router
from digitalstate.publishing.pages import make_pages_router
from digitalstate.publishing.service import node_shelf
from digitalstate.routing import install_routes


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the open data list, packages, files and pages to a node."""
    shelf = node_shelf(node)
    install_routes(app, make_public_router(node, shelf))
    install_routes(app, make_exchange_router(shelf))
    install_routes(app, make_pages_router(node, templates, shelf))


FEATURE = Feature(name="publishing", roles=frozenset({"*"}), install=install)
