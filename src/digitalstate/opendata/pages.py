"""The portal's catalogue pages: search with facets (publisher, theme, format, licence, tags),
each dataset's page (its resources, their columns, a preview, when it was last harvested and
whether a harvest failed) and its downloads as CSV, JSON and Parquet. Server-rendered; they
need no JavaScript (docs/opendata.md#the-catalogue)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import FileResponse, Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.opendata import service
from digitalstate.opendata.ckan import (
    CATALOGUE_PATH,
    FACETS,
    Datastore,
    Search,
    SearchError,
    search,
    text,
)
from digitalstate.opendata.dcat import catalogue_graph
from digitalstate.opendata.domain import LIST, NAME, STORE_TYPES
from digitalstate.opendata.service import Shelf
from digitalstate.opendata.store import Store
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.web.pagination import pagination

PAGE_SIZE = 20
PREVIEW_ROWS = 10
# The facets as the pages name them in their query, and CKAN's names for them.
PAGE_FACETS = {
    "publisher": "organization",
    "theme": "groups",
    "format": "res_format",
    "licence": "license_id",
    "tag": "tags",
}
DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}
RDF_FORMATS = {
    "ttl": ("turtle", "text/turtle; charset=utf-8"),
    "jsonld": ("json-ld", "application/ld+json"),
}
assert set(PAGE_FACETS.values()) == set(FACETS)


def make_pages_router(
    node: NodeRuntime, templates: Jinja2Templates, store: Store, shelf: Shelf
) -> APIRouter:
    """The catalogue's pages and downloads."""
    router = Router(include_in_schema=False)

    def render(request: Request, template: str, **context: Any) -> Response:
        return templates.TemplateResponse(
            request, f"opendata/{template}.html", {"node": node.settings.node, **context}
        )

    async def catalogue(request: Request) -> Response:
        """Search the federation's datasets, narrowed by facets."""
        query = request.query_params
        try:
            words = text(query.get("q", ""), "q").strip()
            chosen = tuple(
                (PAGE_FACETS[name], text(value, name))
                for name, value in query.multi_items()
                if name in PAGE_FACETS and value
            )
            page = max(1, min(int(query.get("page", "1") or 1), 10_000))
        except (SearchError, ValueError):
            words, chosen, page = "", (), 1
        wanted = Search(
            q=words,
            fq=chosen,
            rows=PAGE_SIZE,
            start=(page - 1) * PAGE_SIZE,
            facets=tuple(PAGE_FACETS.values()),
        )
        found = search(await run_blocking(shelf.catalogue), wanted)
        names = {ckan: page_name for page_name, ckan in PAGE_FACETS.items()}
        narrowed = [("q", words), *sorted((names[n], v) for n, v in chosen)]
        return render(
            request,
            "catalogue",
            q=words,
            found=found,
            chosen={(names[n], v) for n, v in chosen},
            facet_names=names,
            pagination=pagination(
                page,
                max(1, -(-found["count"] // PAGE_SIZE)),
                lambda n: f"{CATALOGUE_PATH}?{urlencode([*narrowed, ('page', n)])}",
            ),
        )

    async def dataset(request: Request, publisher: str, name: str) -> Response:
        """A dataset: its resources, their columns and first rows, and its harvest."""
        package_id = f"{publisher[:63]}-{name[:63]}"
        package = (await run_blocking(shelf.catalogue)).package(package_id)
        if package is None:
            return render(request, "not_found", name=package_id)

        def read() -> tuple[service.Status | None, service.Status | None, dict[str, Any]]:
            with node.sessions.begin() as session:
                statuses = {
                    (s.publisher, s.dataset): s
                    for s in service.statuses(session)
                    if s.publisher == publisher
                }
            previews = {}
            for resource in package["resources"]:
                types = {
                    str(f["name"]): STORE_TYPES.get(str(f.get("type", "string")), "VARCHAR")
                    for f in resource["schema"]["fields"]
                }
                rows, total = store.search(
                    publisher,
                    name,
                    package["version"],
                    resource["id"].split(".", 2)[2],
                    types,
                    Datastore(fields=tuple(types), limit=PREVIEW_ROWS),
                )
                previews[resource["id"]] = {"rows": rows, "total": total}
            return statuses.get((publisher, name)), statuses.get((publisher, LIST)), previews

        status, listing, previews = await run_blocking(read)
        return render(
            request,
            "dataset",
            package=package,
            status=status,
            listing=listing,
            previews=previews,
            base=f"{CATALOGUE_PATH}/{publisher}/{name}",
        )

    async def download(publisher: str, name: str, file: str) -> Response:
        """A resource of a dataset's current version as CSV, JSON or Parquet."""
        resource, _dot, kind = file.rpartition(".")
        package = (await run_blocking(shelf.catalogue)).package(f"{publisher[:63]}-{name[:63]}")
        if (
            package is None
            or kind not in DOWNLOADS
            or not NAME.match(resource)
            or not any(r["id"].endswith(f".{resource}") for r in package["resources"])
        ):
            return Response("Not found", status_code=404, media_type="text/plain")
        path = store.path(publisher, name, package["version"], resource, kind)
        return FileResponse(
            path,
            media_type=DOWNLOADS[kind],
            filename=f"{publisher}-{name}-{package['version']}-{resource}.{kind}",
            headers={"x-dataset-version": package["version"]},
        )

    async def dcat(kind: str) -> Response:
        """The catalogue as DCAT 3 (DCAT-AP's mandatory properties), Turtle or JSON-LD."""
        graph = catalogue_graph(
            await run_blocking(shelf.catalogue),
            node.settings.node.base_url.rstrip("/"),
            node.settings.node.name,
        )
        body = await run_blocking(graph.serialize, None, RDF_FORMATS[kind][0])
        return Response(body, media_type=RDF_FORMATS[kind][1])

    async def turtle() -> Response:
        """The catalogue as DCAT 3 in Turtle."""
        return await dcat("ttl")

    async def json_ld() -> Response:
        """The catalogue as DCAT 3 in JSON-LD."""
        return await dcat("jsonld")

    router.add_api_route(CATALOGUE_PATH + ".ttl", turtle, methods=["GET"])
    router.add_api_route(CATALOGUE_PATH + ".jsonld", json_ld, methods=["GET"])
    router.add_api_route(CATALOGUE_PATH, catalogue, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(
        CATALOGUE_PATH + "/{publisher}/{name}",
        dataset,
        methods=["GET"],
        response_class=HTMLResponse,
    )
    router.add_api_route(CATALOGUE_PATH + "/{publisher}/{name}/{file}", download, methods=["GET"])
    return router
