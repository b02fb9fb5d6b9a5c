"""How the services feature is installed on a node (docs/adr/0008)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.services.catalogue import service_for
from digitalstate.services.pages import make_pages_router


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the service's pages, when the demo catalogue has a service for this node."""
    entry = service_for(node.settings.node.id)
    if entry is None:
        return  # a node with no entry shows no service pages
    app.include_router(make_pages_router(node, templates, entry))


FEATURE = Feature(name="services", roles=frozenset({"service"}), install=install)
