"""How the open data portal is installed: on the node with the opendata role (docs/opendata.md).

Its harvest runs in one worker of the node at a time (the opendata-harvest role), into the
Parquet store under the node's data directory (ADR 0029).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.roles import OPENDATA_HARVEST
from digitalstate.node.runtime import NodeRuntime
from digitalstate.opendata.api import make_router
from digitalstate.opendata.harvest import Harvester
from digitalstate.opendata.pages import make_pages_router
from digitalstate.opendata.service import Shelf
from digitalstate.opendata.store import Store
from digitalstate.publishing.service import node_shelf
from digitalstate.routing import install_routes

STORE_FOLDER = "opendata"


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the portal's harvest, its CKAN-compatible Action API and its catalogue pages."""
    store = Store(node.settings.data_dir / STORE_FOLDER)
    harvester = Harvester(node, store, own=node_shelf(node))
    app.state.opendata_harvester = harvester
    node.exclusive(OPENDATA_HARVEST, harvester.run)
    shelf = Shelf(node)
    install_routes(app, make_router(node, store, shelf))
    install_routes(app, make_pages_router(node, templates, store, shelf))


FEATURE = Feature(name="opendata", roles=frozenset({"opendata"}), install=install)
