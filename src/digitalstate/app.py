"""App factories: one ASGI app for a node, one for the trust anchor. All wiring is here."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from digitalstate import __version__
from digitalstate.exchange.api import install_direct_services, make_api_router, offered
from digitalstate.exchange.server import SignedExchangeMiddleware, direct_calls
from digitalstate.exchange.signatures import KeyLookup
from digitalstate.federation.anchor import AnchorRuntime, etag_matches
from digitalstate.federation.keeper import FEDERATION_PATH, Fetch
from digitalstate.node.features import features_for
from digitalstate.node.roles import PerWorker
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.routing import install_routes
from digitalstate.settings import AnchorSettings, NodeSettings
from digitalstate.storage.threads import run_blocking
from digitalstate.web.compression import install_compression
from digitalstate.web.hardening import install_hardening
from digitalstate.web.health import database_check, make_health_router
from digitalstate.web.languages import install_languages
from digitalstate.web.operator import install_operator_refusal, metrics_refusal
from digitalstate.web.operator_pages import make_operator_sign_in_router
from digitalstate.web.problem_handlers import install_problem_handlers
from digitalstate.web.templating import make_templates, mount_static
from digitalstate.web.timing import install_server_timing

METRICS_PATH = "/metrics"


def create_node_app(
    settings: NodeSettings, runtime: NodeRuntime | None = None, *, fetch: Fetch | None = None
) -> FastAPI:
    """The ASGI app of one node, with its exchange, health, federation and home routes.

    fetch, when given, is what a runtime built here gets the federation document with
    (NodeRuntime.build); by default the trust anchor's over HTTP.
    """
    node = runtime or NodeRuntime.build(settings, fetch=fetch)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with node.running():
            yield

    app = FastAPI(
        title=f"digitalstate node {settings.node.id}",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.node = node
    install_problem_handlers(app)
    mount_static(app)
    templates = make_templates()
    install_operator_refusal(app, templates)

    def checks() -> dict[str, dict[str, Any]]:
        fresh = node.keeper.is_fresh()
        doc = node.keeper.document
        detail = (
            f"version {doc.version}, expires {doc.expires_at.isoformat()}"
            if doc
            else node.keeper.last_error or "no document yet"
        )
        if doc and not fresh:
            detail = f"version {doc.version} expired at {doc.expires_at.isoformat()}"
        return {
            "database": database_check(node.engine),
            "federation": {"ok": fresh, "detail": detail},
            **{name: check() for name, check in node.checks.items()},
        }

    install_routes(app, make_health_router(checks, node.roles.describe))
    install_routes(app, make_api_router())
    install_direct_services(app)
    install_routes(app, make_operator_sign_in_router(settings, templates))
    for feature in features_for(settings.node.roles):
        feature.install(app, node, templates)

    @app.get(FEDERATION_PATH, tags=["federation"])
    async def federation_copy() -> Response:
        """The signed federation document this node currently holds."""
        if node.keeper.envelope is None:
            raise Problem("federation-unavailable", "this node holds no federation document yet")
        return JSONResponse(node.keeper.envelope)

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """This node's Prometheus metrics, for operators only (web/operator.py)."""
        refusal = metrics_refusal(request, settings)
        if refusal is not None:
            return refusal
        body = await run_blocking(generate_latest, PerWorker(node.metrics))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> Response:
        """Say what this node is, which federation it belongs to and what it offers."""
        # The database check blocks: off the event loop, as /readyz (a sync route) runs it.
        health = await run_blocking(checks)
        return templates.TemplateResponse(
            request,
            "node_home.html",
            {
                "node": settings.node,
                "services": offered(app),
                "federation": node.keeper.document if node.keeper.is_fresh() else None,
                "health": health,
            },
        )

    def keys() -> KeyLookup:
        document, now = node.keeper.current(), int(time.time())
        return lambda member_id, at: document.keys_for(member_id, at, now=now)

    app.add_middleware(
        SignedExchangeMiddleware,
        member_id=settings.node.id,
        key=node.key,
        base_url=settings.node.base_url,
        keys=keys,
        nonces=node.nonces,
        skew=settings.exchange.clock_skew_seconds,
        max_body_bytes=settings.exchange.max_body_bytes,
        direct=direct_calls(app.state),
    )
    install_compression(app)
    install_hardening(app, base_url=settings.node.base_url, edge=settings.web, templates=templates)
    install_languages(app, languages=settings.web.languages, base_url=settings.node.base_url)
    if settings.web.server_timing:
        install_server_timing(app)
    return app


def _published(anchor: AnchorRuntime, if_none_match: str | None) -> Response:
    """The anchor's signed envelope with its strong ETag, or 304 when if_none_match names it."""
    published = anchor.published
    if published is None:
        raise Problem("federation-unavailable", "the trust anchor has not issued a document")
    body, etag = published
    headers = {"cache-control": "no-cache", "etag": etag}
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def create_anchor_app(settings: AnchorSettings) -> FastAPI:
    """The trust anchor's ASGI app: publishes the signed federation document."""
    anchor = AnchorRuntime.build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with anchor.running():
            yield

    app = FastAPI(
        title="digitalstate trust anchor",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.anchor = anchor
    install_problem_handlers(app)
    mount_static(app)
    templates = make_templates()

    def checks() -> dict[str, dict[str, Any]]:
        doc = anchor.document
        ok = doc is not None and not doc.is_expired(datetime.now(UTC))
        detail = f"version {doc.version}" if doc else "no federation document"
        return {
            "database": database_check(anchor.engine),
            "federation": {"ok": ok, "detail": detail},
        }

    install_routes(app, make_health_router(checks))

    @app.get(FEDERATION_PATH, tags=["federation"])
    async def federation_document(request: Request) -> Response:
        """The current signed federation document (304 when If-None-Match names it)."""
        return _published(anchor, request.headers.get("if-none-match"))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> Response:
        """Say which federation this trust anchor publishes and who its members are."""
        return templates.TemplateResponse(
            request, "anchor_home.html", {"settings": settings.anchor, "document": anchor.document}
        )

    install_compression(app)
    install_hardening(
        app, base_url=settings.anchor.base_url, edge=settings.web, templates=templates
    )
    install_languages(app, languages=settings.web.languages, base_url=settings.anchor.base_url)
    if settings.web.server_timing:
        install_server_timing(app)
    return app
