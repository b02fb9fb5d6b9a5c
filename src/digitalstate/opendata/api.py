"""The portal's CKAN-compatible Action API: `/api/3/action/{action}` (and `/api/action/`, where
the ckanapi client calls), by GET with query parameters or POST with a JSON object.

Answers are CKAN's envelope, not problem+json: `{"help", "success": true, "result"}`, or
`{"help", "success": false, "error": {"__type", "message", ...}}` with CKAN's status codes (404
Not Found Error, 409 Validation Error and Search Query Error, 400 for a request that is not
one), so that CKAN's clients work unmodified (docs/opendata.md#the-ckan-api).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from digitalstate.node.runtime import NodeRuntime
from digitalstate.opendata.ckan import (
    ROW_ID,
    SearchError,
    datastore_of,
    search,
    search_of,
)
from digitalstate.opendata.domain import STORE_TYPES
from digitalstate.opendata.service import Shelf
from digitalstate.opendata.store import Store
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking

ACTION_PATHS = ("/api/3/action/{action}", "/api/action/{action}")
Params = dict[str, Any]


class NotFoundError(LookupError):
    """What an action was asked for does not exist."""


def _id(params: Params) -> str:
    value = params.get("id")
    if not isinstance(value, str) or not value:
        raise SearchError("id", "Missing value")
    return value[:200]


def make_router(node: NodeRuntime, store: Store, shelf: Shelf) -> APIRouter:
    """The Action API's routes, reading the catalogue shelf keeps."""
    router = Router(tags=["open data portal"])
    base = node.settings.node.base_url.rstrip("/")

    def package_list(params: Params) -> Any:
        return [p["name"] for p in shelf.catalogue().packages]

    def package_show(params: Params) -> Any:
        found = shelf.catalogue().package(_id(params))
        if found is None:
            raise NotFoundError("Dataset not found")
        return found

    def package_search(params: Params) -> Any:
        return search(shelf.catalogue(), search_of(params))

    def organization_list(params: Params) -> Any:
        organisations = shelf.catalogue().organisations.values()
        if params.get("all_fields") in (True, "true", "True"):
            return [o.shown() for o in organisations]
        return [o.name for o in organisations]

    def organization_show(params: Params) -> Any:
        catalogue = shelf.catalogue()
        found = catalogue.organisations.get(_id(params))
        if found is None:
            raise NotFoundError("Organization not found")
        shown = found.shown()
        if params.get("include_datasets") in (True, "true", "True"):
            shown["packages"] = [catalogue.package(name) for name in found.packages]
        return shown

    def resource_show(params: Params) -> Any:
        found = shelf.catalogue().resource(_id(params))
        if found is None:
            raise NotFoundError("Resource was not found.")
        return found

    def datastore_search(params: Params) -> Any:
        resource_id = params.get("resource_id", params.get("id"))
        if not isinstance(resource_id, str) or not resource_id:
            raise SearchError("resource_id", "Missing value")
        catalogue = shelf.catalogue()
        found = catalogue.resource(resource_id[:200])
        if found is None:
            raise NotFoundError(f'Resource "{resource_id[:200]}" was not found.')
        package = catalogue.package(found["package_id"])
        assert package is not None  # a resource's package is in the same catalogue
        publisher, dataset, resource = resource_id.split(".", 2)
        # CKAN's row id first, then the resource's columns (opendata/store.py numbers the rows).
        types = {ROW_ID: "BIGINT"} | {
            str(f["name"]): STORE_TYPES.get(str(f.get("type", "string")), "VARCHAR")
            for f in found["schema"]["fields"]
        }
        query = datastore_of(params, list(types))
        rows, total = store.search(publisher, dataset, package["version"], resource, types, query)
        result: dict[str, Any] = {
            "resource_id": resource_id,
            "fields": [
                {
                    "id": f,
                    "type": "int" if f == ROW_ID else types[f].lower().replace("varchar", "text"),
                }
                for f in query.fields
            ],
            "records": rows,
            "limit": query.limit,
            "offset": query.offset,
            "include_total": query.include_total,
            "_links": {
                "start": f"/api/3/action/datastore_search?resource_id={resource_id}",
                "next": (
                    f"/api/3/action/datastore_search?resource_id={resource_id}"
                    f"&offset={query.offset + query.limit}"
                ),
            },
        }
        if total is not None:
            result["total"] = total
        if query.sort:
            result["sort"] = ", ".join(f"{c} {'desc' if d else 'asc'}" for c, d in query.sort)
        if query.warnings:
            result["warnings"] = list(query.warnings)
        return result

    actions: dict[str, Callable[[Params], Any]] = {
        "package_list": package_list,
        "package_show": package_show,
        "package_search": package_search,
        "organization_list": organization_list,
        "organization_show": organization_show,
        "resource_show": resource_show,
        "datastore_search": datastore_search,
    }

    def envelope(action: str, status: int, **body: Any) -> Response:
        help_url = f"{base}/api/3/action/help_show?name={action}"
        content = json.dumps({"help": help_url, **body}, default=str)
        return Response(content, status_code=status, media_type="application/json")

    def refused(action: str, status: int, kind: str, message: str) -> Response:
        return envelope(action, status, success=False, error={"__type": kind, "message": message})

    def answer(action: str, params: Params) -> Any:
        return actions[action](params)

    async def act(action: str, params: Params) -> Response:
        action = action[:80]
        if action not in actions:
            return refused(
                action, 400, "Bad request", f"Bad request - Action name not known: {action}"
            )
        try:
            result = await run_blocking(answer, action, params)
        except NotFoundError as exc:
            return refused(action, 404, "Not Found Error", f"Not found: {exc}")
        except SearchError as exc:
            error: dict[str, Any] = {"__type": exc.error_type}
            if exc.error_type == "Validation Error":
                error[exc.field] = [str(exc)]
                error["message"] = f"Validation Error: {exc}"
            else:
                error["message"] = f"Search Query Error: {exc}"
            return envelope(action, 409, success=False, error=error)
        return envelope(action, 200, success=True, result=result)

    async def get_action(action: str, request: Request) -> Response:
        """Run a CKAN action with the query's parameters."""
        return await act(action, dict(request.query_params))

    async def post_action(action: str, request: Request) -> Response:
        """Run a CKAN action with the JSON object posted (or a form's fields)."""
        body = await request.body()  # bounded by [web] max_body_bytes (web/hardening.py)
        params: Any = dict(request.query_params)
        if body.strip():
            try:
                params = json.loads(body)
            except ValueError:
                params = None
            if not isinstance(params, dict):
                return refused(
                    action[:80],
                    400,
                    "Bad request",
                    "Bad request - JSON Error: the body is not a JSON object",
                )
        return await act(action, params)

    for path in ACTION_PATHS:
        router.add_api_route(path, get_action, methods=["GET"])
        router.add_api_route(path, post_action, methods=["POST"])
    return router
