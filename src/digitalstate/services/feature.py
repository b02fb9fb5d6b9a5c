"""How the services feature is installed on a node (docs/adr/0008)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.services.definitions import check_against, load_service_definition
from digitalstate.services.pages import make_pages_router


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the pages of the service the node's [services] files declare, if any."""
    files = node.settings.service_files
    if not files:
        return  # a node that declares no service shows no service pages
    path = files[0]  # the settings allow one for now
    entry = load_service_definition(path, node.settings.node.id)

    def ready() -> dict[str, Any]:
        document = node.keeper.document
        if document is None:
            return {"ok": False, "detail": "no federation document to check the service against"}
        problem = check_against(path, entry, document)
        return {"ok": problem is None, "detail": problem or f"{entry.purpose}: {path.name}"}

    node.checks["services"] = ready
    app.include_router(make_pages_router(node, templates, entry))


FEATURE = Feature(name="services", roles=frozenset({"service"}), install=install)
