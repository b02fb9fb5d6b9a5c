"""`Server-Timing: app;dur=<ms>` on every HTTP response of a node or the anchor whose
`[web] server_timing` is on (off by default), and of the demo's mail catcher.

The time from the request reaching the app's outermost middleware to the start of its
response: for a page, routing, the database, rendering its template and compressing it
(web/compression.py). A standard header (W3C Server Timing): browsers' developer tools show
it, and `digitalstate bench services` reads it to measure the server's own time per page,
apart from the network and the client. Pure ASGI, like web/hardening.py: one clock read at
each end and one header, nothing per body chunk. It names no part of the work, but it gives
every client the server's time to a tenth of a millisecond, without the network's noise: a
side channel made easy on pages that must answer the same whether or not an account exists,
which is why a node sends it only when its operator asks (ADR 0022).
"""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SERVER_TIMING = b"server-timing"


def server_timing_value(seconds: float) -> bytes:
    """The header's value for a response that took seconds: b'app;dur=12.3' (milliseconds)."""
    return f"app;dur={seconds * 1000:.1f}".encode()


class ServerTiming:
    """Add Server-Timing to the start of every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request until its response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                spent = server_timing_value(time.perf_counter() - began)
                headers = [*message.get("headers", ()), (SERVER_TIMING, spent)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def install_server_timing(app: Starlette) -> None:
    """Add ServerTiming to app; call it last, so that it times every other middleware too."""
    app.add_middleware(ServerTiming)
