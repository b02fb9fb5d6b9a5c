"""gzip for the static files a browser loads (styles, scripts, icons); never for pages or APIs.

A browser that sends `Accept-Encoding: gzip` gets a static file of 500 bytes or more
compressed (Starlette's GZipMiddleware, at level 6: the design system's stylesheet, 136 KB,
becomes 15 KB in about 3 ms, where level 9 takes four times as long for 1% less). Media types
that are compressed already (images, fonts) go as they are.

Only /static/: a page carries the session's CSRF token and may show back what the person
typed, and a compressed response that holds a secret next to text an attacker chooses leaks
the secret through its length to someone who sees the traffic (BREACH). Static files hold no
secret. Pages are a few kB each, so the first load of a page is mostly its stylesheet anyway.
The signed exchange (under /exchange/) is never compressed either: its answers are signed
over their bodies.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from digitalstate.web.templating import STATIC_PATH

COMPRESS_LEVEL = 6
MINIMUM_BYTES = 500
# Compressed already: sent as they are.
NOT_COMPRESSED = ("image/gif", "image/jpeg", "image/png", "image/webp", "font/woff", "font/woff2")


class Compression:
    """GZipMiddleware for the static files, and nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(
            app,
            minimum_size=MINIMUM_BYTES,
            compresslevel=COMPRESS_LEVEL,
            exclude_content_types=NOT_COMPRESSED,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Compress a static file; pass anything else by untouched."""
        if scope["type"] == "http" and scope["path"].startswith(STATIC_PATH + "/"):
            await self.gzip(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_compression(app: Starlette) -> None:
    """Add Compression to app; call it before install_hardening, so that the security headers
    are outside it."""
    app.add_middleware(Compression)
