"""Who may use a node's operator pages (/operator/...) and /metrics.

Operator pages have no sign-in of their own: they answer only requests from a loopback
address unless [web] operator_remote is on (docs/configuration.md). A request from elsewhere
gets a 403 page saying why.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import is_loopback


class OperatorOnlyError(Exception):
    """An operator page asked for from an address that may not use it."""


def operator_allowed(request: Request, remote: bool) -> bool:
    """True when the request may use operator pages: from loopback, or remote is allowed."""
    host = request.client.host if request.client is not None else ""
    return remote or from_loopback(host)


def from_loopback(host: str) -> bool:
    """True for a loopback address, also in IPv4-mapped IPv6 form (a dual-stack listener)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return is_loopback(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def operator_only(remote: bool) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that refuses requests that may not use operator pages."""

    async def require_operator(request: Request) -> None:
        """Refuse the request unless it may use operator pages."""
        if not operator_allowed(request, remote):
            raise OperatorOnlyError

    return require_operator


def install_operator_refusal(app: FastAPI, templates: Jinja2Templates) -> None:
    """Answer an operator page asked for from elsewhere with a 403 page saying why."""

    async def refuse(request: Request, _exc: Exception) -> Response:
        """A 403 page saying where the operator pages can be used."""
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "status": 403,
                "title": "Operator pages are only available on the node's own machine",
                "detail": "Open this page in a browser on the machine the node runs on "
                "(for example through an SSH tunnel). An operator can also set "
                "[web] operator_remote = true, but only behind a VPN or a proxy with its own "
                "sign-in.",
            },
            status_code=403,
        )

    app.add_exception_handler(OperatorOnlyError, refuse)
