"""Exchange routes every node offers: what this node offers (like X-Road's listMethods)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from digitalstate.exchange.legal_ground import PURPOSE_HEADER
from digitalstate.exchange.server import DirectCall, direct_calls
from digitalstate.routing import Router

SERVICES_PATH = "/exchange/v1/services"


def describe_services(app: FastAPI) -> list[dict[str, Any]]:
    """The exchange routes of app: method, path, summary and whether they touch personal data.

    Read from the app's OpenAPI document: a route touches personal data when it declares the
    purpose header, which only the `personal_data` dependency does.
    """
    out: list[dict[str, Any]] = []
    for path, operations in app.openapi().get("paths", {}).items():
        if not path.startswith("/exchange/"):
            continue
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            personal = any(
                p.get("in") == "header" and p.get("name") == PURPOSE_HEADER for p in params
            )
            summary = (operation.get("description") or operation.get("summary") or "").strip()
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": summary.splitlines()[0] if summary else "",
                    "personal_data": personal,
                }
            )
    return sorted(out, key=lambda s: (s["path"], s["method"]))


def offered(app: FastAPI) -> list[dict[str, Any]]:
    """describe_services(app), worked out at the first call and kept.

    The route table does not change while the node runs, and building the OpenAPI document
    costs more than starting the rest of the app, so it is not built before it is asked for.
    """
    services: list[dict[str, Any]] | None = getattr(app.state, "services", None)
    if services is None:
        services = app.state.services = describe_services(app)
    return services


def services_body(app: FastAPI) -> bytes:
    """The JSON body that lists what app offers, made at the first call and kept."""
    body: bytes | None = getattr(app.state, "services_body", None)
    if body is None:
        member = app.state.node.settings.node.id
        body = json.dumps({"member": member, "services": offered(app)}).encode()
        app.state.services_body = body
    return body


async def list_services(request: Request) -> Response:
    """List what this node offers over the exchange, and which calls touch personal data."""
    return Response(services_body(request.app), media_type="application/json")


def install_direct_services(app: FastAPI) -> None:
    """Answer the listing as a direct call (exchange/server.py), as list_services answers it."""

    async def services(_call: DirectCall) -> bytes:
        return services_body(app)

    direct_calls(app.state)[("GET", SERVICES_PATH)] = services


def make_api_router() -> APIRouter:
    """The exchange routes every node offers, whatever its roles."""
    router = Router(prefix="/exchange/v1", tags=["exchange"])
    router.add_api_route("/services", list_services, methods=["GET"])
    return router
