"""A synchronous client of an ASGI app, in-process, that runs the app's lifespan on its own loop."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from fastapi import FastAPI

from digitalstate.exchange.client import ExchangeClient
from digitalstate.exchange.legal_ground import BASIS_HEADER, CONSENT_HEADER, PURPOSE_HEADER
from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.transparency.auditor import default_tls

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def http_client(**options: Any) -> httpx.Client:
    """An httpx.Client with httpx's default TLS context, made once: each new client would load
    the CA bundle again (tens of milliseconds of CPU), though tests mostly speak plain HTTP."""
    return httpx.Client(verify=default_tls(), **options)


WORKER = "worker"
"""The request extension naming which of a node's workers (by index) a Balancer sends it to."""


class Balancer(httpx.AsyncBaseTransport):
    """A load balancer in front of several workers (apps) of one node, in-process.

    Each request goes to the worker its extensions name (``extensions={WORKER: 1}``), else to
    the next in turn. Each worker has its own runtime and app, as worker processes do, over
    the node's database and files; they are in one process, so module-level state is shared
    (the code keeps none that a use changes). One client (one cookie jar, one browser)
    reaches them all.
    """

    def __init__(self, apps: Sequence[FastAPI]) -> None:
        self.workers = [httpx.ASGITransport(app=app) for app in apps]
        self._turn = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The answer of the named worker, or of the next in turn."""
        worker = request.extensions.get(WORKER)
        if worker is None:
            worker, self._turn = self._turn, (self._turn + 1) % len(self.workers)
        return await self.workers[worker].handle_async_request(request)


class InProcessClient:
    """A synchronous client of app at base_url: enter it (`with`) to run the app's lifespan.

    Calls go through httpx's ASGI transport (Starlette's TestClient warns about httpx); an
    unexpected exception in the app is raised here too, failing the test loudly.
    """

    def __init__(self, app: FastAPI, base_url: str, **client: Any) -> None:
        self.app = app
        self.base_url = base_url
        self.loop = asyncio.Runner()
        self.client = self.from_address(**client)
        self.lifespan = app.router.lifespan_context(app)
        self.last_signed: dict[str, str] = {}

    def from_address(
        self, host: str = "127.0.0.1", port: int = 123, **client: Any
    ) -> httpx.AsyncClient:
        """Another async client of the same app, whose requests come from host (run it with run)."""
        transport = httpx.ASGITransport(app=self.app, client=(host, port))
        return httpx.AsyncClient(transport=transport, base_url=self.base_url, **client)

    def __enter__(self) -> InProcessClient:
        self.loop.run(self.lifespan.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.loop.run(self.client.aclose())
            self.loop.run(self.lifespan.__aexit__(None, None, None))
        finally:
            self.loop.close()

    def run(self, coroutine: Any) -> Any:
        """Run a coroutine on the app's loop (for the node's own async code)."""
        return self.loop.run(coroutine)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request to the app and wait for its answer."""
        return self.loop.run(self.client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET path."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST path."""
        return self.request("POST", path, **kwargs)

    def csrf(self, path: str) -> str:
        """The CSRF token in the form of the page at path."""
        page = self.get(path)
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found, f"no CSRF token in {path}"
        return found.group(1)

    def signed(
        self,
        member_id: str,
        key: KeyPair,
        document: FederationDocument,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> httpx.Response:
        """Call path with body and headers, signed by member_id as a peer signs its calls.

        The signed headers are kept in last_signed (to check that an answer is bound to them).
        """
        client = ExchangeClient(member_id, key, lambda: document, clock=clock)
        url = self.base_url + path
        self.last_signed = client.sign_request(method, url, body, dict(headers or {}))
        return self.request(method, path, content=body, headers=self.last_signed)


def ground_headers(
    *, purpose: str | None = None, consent: str | None = None, basis: str | None = None
) -> dict[str, str]:
    """The headers of a JSON call naming its ground: purpose, consent, basis (None: not named)."""
    headers = {"content-type": "application/json"}
    for name, value in (
        (PURPOSE_HEADER, purpose),
        (CONSENT_HEADER, consent),
        (BASIS_HEADER, basis),
    ):
        if value is not None:
            headers[name] = value
    return headers
