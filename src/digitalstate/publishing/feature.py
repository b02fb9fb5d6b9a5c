"""How open data publishing is installed: on every node (docs/opendata.md).

Features add the datasets they publish to `node.datasets` when installed (spending/feature.py
adds the node's payments); this feature serves whatever is there, read at request time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.publishing.api import make_exchange_router, make_public_router
from digitalstate.publishing.domain import LICENCES, Publisher
from digitalstate.publishing.pages import make_pages_router
from digitalstate.publishing.service import Shelf


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the open data list, packages, files and pages to a node."""
    settings = node.settings
    publisher = Publisher(
        member_id=settings.node.id,
        name=settings.node.name,
        base_url=settings.node.base_url.rstrip("/"),
        licence=LICENCES[settings.publishing.licence],
    )
    shelf = Shelf(
        node.sessions,
        node.datasets,
        publisher,
        refresh=settings.publishing.refresh_seconds,
        clock=lambda: datetime.now(UTC),
    )
    app.include_router(make_public_router(node, shelf))
    app.include_router(make_exchange_router(shelf))
    app.include_router(make_pages_router(node, templates, shelf))


FEATURE = Feature(name="publishing", roles=frozenset({"*"}), install=install)
