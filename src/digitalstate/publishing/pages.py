"""The public pages of a node's open data: the list of its datasets, and each dataset's page
(what it is, its licence and version, its files, each table's schema, a preview of its first
rows and what changed in each version). Server-rendered; they need no JavaScript."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.publishing.domain import Table, as_written, changes
from digitalstate.publishing.service import DATASETS_PATH, Shelf, versions_of
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.web.i18n import N_, _

PREVIEW_ROWS = 10
# How often a dataset changes (domain.FREQUENCIES), as its page says it in the page's language;
# the Data Package keeps the word itself (x-update-frequency).
FREQUENCY_LABELS = {
    "continuous": N_("Continuously"),
    "daily": N_("Every day"),
    "weekly": N_("Every week"),
    "monthly": N_("Every month"),
    "quarterly": N_("Every quarter"),
    "annual": N_("Once a year"),
    "irregular": N_("Irregularly"),
}


def preview(table: Table, rows: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first rows of a table's CSV file (after its header), its text as written (the CSV
    keeps a text that starts like a formula after a ': publishing.domain.spreadsheet_safe)."""
    texts = [f.type == "string" for f in table.spec.fields]
    reader = csv.reader(io.StringIO(table.csv.decode("utf-8"), newline=""))
    next(reader, None)
    out: list[list[str]] = []
    for row in reader:
        if len(out) == rows:
            break
        out.append([as_written(c) if text else c for text, c in zip(texts, row, strict=True)])
    return out


def make_pages_router(node: NodeRuntime, templates: Jinja2Templates, shelf: Shelf) -> APIRouter:
    """The pages, bound to node and what it publishes."""
    router = Router(include_in_schema=False)

    def render(request: Request, page: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(
            request,
            f"publishing/{page}.html",
            {"node": node.settings.node, **context},
            status_code=status,
        )

    async def datasets(request: Request) -> Response:
        """Every dataset the node publishes."""
        published = await run_blocking(shelf.all)
        return render(request, "datasets", datasets=published, licence=shelf.publisher.licence)

    async def dataset(request: Request, name: str) -> Response:
        """One dataset: what it is, its files, schemas, first rows and versions."""
        try:
            published = await run_blocking(shelf.found, name)
        except Problem:
            return render(request, "not_found", status=404, name=name[:63])

        def history() -> list[Any]:
            with node.sessions.begin() as session:
                return changes(versions_of(session, published.spec.name))

        return render(
            request,
            "dataset",
            dataset=published,
            frequency=_(FREQUENCY_LABELS[published.spec.update_frequency]),
            licence=shelf.publisher.licence,
            previews={t.spec.name: preview(t) for t in published.content.tables},
            history=await run_blocking(history),
            base=f"{DATASETS_PATH}/{published.spec.name}",
        )

    router.add_api_route(DATASETS_PATH, datasets, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(
        DATASETS_PATH + "/{name}", dataset, methods=["GET"], response_class=HTMLResponse
    )
    return router
