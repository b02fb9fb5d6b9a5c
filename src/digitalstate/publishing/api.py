"""The routes of a node's published datasets: for anyone, and over the signed exchange.

Public: `/datasets.json` (the list), `/datasets/{name}/datapackage.json`, each resource as
`/datasets/{name}/{resource}.csv` and `.json`, and `/datasets/{name}/versions.json`. The same
list, packages and CSV under `/exchange/v1/datasets`, signed, for the open data portal's
harvest (docs/opendata.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.publishing.domain import changes
from digitalstate.publishing.service import (
    DATASETS_PATH,
    Shelf,
    listing,
    package,
    versions_of,
)
from digitalstate.routing import Router

EXCHANGE_DATASETS_PATH = "/exchange/v1/datasets"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
PACKAGE_MEDIA_TYPE = "application/json"


def table_response(shelf: Shelf, name: str, file: str) -> Response:
    """A resource as CSV or JSON, by its file name (payments.csv, payments.json)."""
    published = shelf.found(name)
    resource, dot, kind = file[:80].rpartition(".")
    table = published.content.table(resource) if dot else None
    if table is None or kind not in ("csv", "json"):
        raise Problem(
            "not-found",
            f"dataset {published.spec.name!r} has no file {file[:80]!r}; its files are "
            + ", ".join(f"{t.spec.name}.csv, {t.spec.name}.json" for t in published.content.tables),
        )
    headers = {"x-dataset-version": published.version.number}
    if kind == "csv":
        return Response(table.csv, media_type=CSV_MEDIA_TYPE, headers=headers)
    return Response(table.json, media_type="application/json", headers=headers)


def make_public_router(node: NodeRuntime, shelf: Shelf) -> APIRouter:
    """The list, the packages and the files, for anyone."""
    router = Router(tags=["open data"])

    @router.get(DATASETS_PATH + ".json")
    def datasets() -> dict[str, Any]:
        """The datasets this node publishes."""
        return listing(shelf)

    @router.get(DATASETS_PATH + "/{name}/datapackage.json")
    def datapackage(name: str) -> JSONResponse:
        """The dataset's Frictionless Data Package."""
        return JSONResponse(package(shelf, shelf.found(name)), media_type=PACKAGE_MEDIA_TYPE)

    @router.get(DATASETS_PATH + "/{name}/versions.json")
    def versions(name: str) -> dict[str, Any]:
        """Every version of the dataset, newest first, with the rows each resource had."""
        published = shelf.found(name)
        with node.sessions.begin() as session:
            history = changes(versions_of(session, published.spec.name))
        return {
            "name": published.spec.name,
            "versions": [
                {
                    "version": change.version.number,
                    "created": change.version.created_at.isoformat(),
                    "schema_changed": change.schema_changed,
                    "rows": {
                        resource: {"before": before, "after": after}
                        for resource, (before, after) in change.rows.items()
                    },
                }
                for change in history
            ],
        }

    @router.get(DATASETS_PATH + "/{name}/{file}")
    def resource_file(name: str, file: str) -> Response:
        """A resource of the dataset as CSV or JSON."""
        return table_response(shelf, name, file)

    return router


def make_exchange_router(shelf: Shelf) -> APIRouter:
    """The list, the packages and the CSV files, signed, for the federation's portal."""
    router = Router(prefix=EXCHANGE_DATASETS_PATH, tags=["open data"])

    @router.get("")
    def datasets() -> dict[str, Any]:
        """The datasets this node publishes."""
        return listing(shelf)

    @router.get("/{name}/datapackage.json")
    def datapackage(name: str) -> dict[str, Any]:
        """The dataset's Frictionless Data Package."""
        return package(shelf, shelf.found(name))

    @router.get("/{name}/{file}")
    def resource_file(name: str, file: str) -> Response:
        """A resource of the dataset as CSV or JSON."""
        return table_response(shelf, name, file)

    return router
