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
from digitalstate.opendata.store import Store

STORE_FOLDER = "opendata"


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the portal's harvest and its CKAN-compatible Action API to the node."""
    store = Store(node.settings.data_dir / STORE_FOLDER)
    harvester = Harvester(node, store)
    app.state.opendata_harvester = harvester
    node.exclusive(OPENDATA_HARVEST, harvester.run)
    app.include_router(make_router(node, store))


FEATURE = Feature(name="opendata", roles=frozenset({"opendata"}), install=install)
