"""The datasets a node publishes about its services, at stable addresses (docs/performance.md):

- /performance/data.json: the list of the node's datasets, with each one's addresses;
- /performance/data/<name>.csv and .json: the rows, for every service and the last 12 months;
- /performance/data/<name>.schema.json: its Frictionless table schema.

The names are those of performance/datasets.py (kpis, satisfaction). Public, read-only, and
cheap: they read the counts kept by month, never the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.responses import Response

from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.datasets import (
    DATASETS,
    KPIS,
    Dataset,
    as_csv,
    as_json,
    kpi_rows,
    satisfaction_rows,
    table_schema,
)
from digitalstate.performance.reports import MeasuredService, Reports, Year
from digitalstate.problems import Problem

DATA_PATH = "/performance/data"
BY_NAME = {dataset.name: dataset for dataset in DATASETS}


def dataset_list(base_url: str) -> dict[str, Any]:
    """The node's datasets, each with its title and addresses."""
    return {
        "datasets": [
            {
                "name": dataset.name,
                "title": dataset.title,
                "csv": f"{base_url}{DATA_PATH}/{dataset.name}.csv",
                "json": f"{base_url}{DATA_PATH}/{dataset.name}.json",
                "schema": f"{base_url}{DATA_PATH}/{dataset.name}.schema.json",
            }
            for dataset in DATASETS
        ]
    }


def rows_of(dataset: Dataset, year: Year, currency: str) -> list[list[Any]]:
    """dataset's rows for year."""
    if dataset is KPIS:
        return kpi_rows(year.services, currency)
    return satisfaction_rows(year.services)


def make_datasets_router(node: NodeRuntime, services: Sequence[MeasuredService]) -> APIRouter:
    """The datasets' routes."""
    reports = Reports(node, services)
    router = APIRouter(tags=["performance"])
    base_url = node.settings.node.base_url
    currency = node.settings.performance.currency

    @router.get("/performance/data.json")
    async def datasets() -> JSONResponse:
        """The datasets this node publishes about its services."""
        return JSONResponse(dataset_list(base_url))

    @router.get(DATA_PATH + "/{file}")
    async def dataset(file: str) -> Response:
        """A dataset as CSV (<name>.csv), JSON (<name>.json) or its schema (<name>.schema.json)."""
        name, _, kind = file.partition(".")
        found = BY_NAME.get(name)
        if found is None or kind not in ("csv", "json", "schema.json"):
            known = ", ".join(f"{n}.csv, {n}.json, {n}.schema.json" for n in BY_NAME)
            raise Problem("not-found", f"this node publishes {known}; not {file[:60]!r}")
        if kind == "schema.json":
            return JSONResponse(table_schema(found))
        rows = rows_of(found, await reports.year(), currency)
        if kind == "csv":
            return Response(as_csv(found, rows), media_type="text/csv; charset=utf-8")
        schema = f"{base_url}{DATA_PATH}/{name}.schema.json"
        return JSONResponse(as_json(found, rows, schema))

    return router
