"""gzip for the pages, styles and scripts a browser loads; never for the signed exchange.

A browser that sends `Accept-Encoding: gzip` gets a response of 500 bytes or more compressed
(Starlette's GZipMiddleware, at level 6: the design system's stylesheet, 136 KB, becomes 15 KB
in about 3 ms, where level 9 takes four times as long for 1% less). Media types that are
compressed already (images, fonts, archives) and event streams are sent as they are.

Requests under /exchange/ pass by untouched: an exchange response is signed over its body
(docs/exchange.md), so its bytes on the wire are exactly the ones signed.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from digitalstate.web.hardening import EXCHANGE_PREFIX

COMPRESS_LEVEL = 6
MINIMUM_BYTES = 500
# Compressed already, or not worth it: sent as they are.
NOT_COMPRESSED = (
    "application/gzip",
    "application/zip",
    "application/pdf",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "font/woff",
    "font/woff2",
    "text/event-stream",
)


class Compression:
    """GZipMiddleware for everything but the signed exchange."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(
            app,
            minimum_size=MINIMUM_BYTES,
            compresslevel=COMPRESS_LEVEL,
            exclude_content_types=NOT_COMPRESSED,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Compress, unless scope is not HTTP or is a call to the exchange."""
        if scope["type"] != "http" or scope["path"].startswith(EXCHANGE_PREFIX):
            await self.app(scope, receive, send)
            return
        await self.gzip(scope, receive, send)


def install_compression(app: Starlette) -> None:
    """Add Compression to app; call it before install_hardening, so that the 413 and the
    security headers are outside it and the app's own responses are compressed."""
    app.add_middleware(Compression)
