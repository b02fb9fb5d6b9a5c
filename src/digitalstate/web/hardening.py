"""The HTTP edge of every node and the trust anchor: Host, body size and security headers.

Three pure ASGI middlewares (cheap on the exchange's hot path, like exchange/server.py):

- ``SecurityHeaders`` (outermost) gives every response a strict Content-Security-Policy with
  a fresh nonce per request (``csp_nonce``; templates get it as ``cspNonce`` for
  govuk-frontend's one inline script), ``frame-ancestors 'none'``, ``nosniff``, a referrer
  policy, and HSTS when the base URL is https.
- ``TrustedHostGate`` refuses a request whose Host is not the base URL's host or one of
  ``[web] allowed_hosts`` (400 ``untrusted-host``), so that a DNS-rebinding page in an
  operator's browser cannot read the node's pages. The Host must come once and be a host
  name (or bracketed IPv6 literal) with at most a port of digits, 1-65535.
- ``BodyLimit`` refuses a body past ``[web] max_body_bytes`` with 413, from Content-Length
  before reading anything, else as soon as the count of bytes read passes the limit. A page
  that takes files has the larger limit its feature gave it (``allow_larger_body``). Under
  /exchange/ the signed exchange applies its own ``[exchange] max_body_bytes``.

docs/adr/0016-web-hardening.md says why.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digitalstate.problems import PROBLEM_MEDIA_TYPE, Problem
from digitalstate.settings import EdgeSection
from digitalstate.web.i18n import _

NONCE_STATE_KEY = "csp_nonce"
LARGER_BODIES = "larger_bodies"  # app.state: path -> the body limit of a page that takes files
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
EXCHANGE_PREFIX = "/exchange/"
# A page form is a few short fields: these bound python-multipart beyond the body size.
FORM_MAX_FIELDS = 100
FORM_MAX_FILES = 0
FORM_MAX_PART_BYTES = 65_536
PATH_PARAMETER = re.compile(r"\{\w+\}")  # a route's path parameter: {slug}
# A Host header: a DNS name or IPv4 address, or a bracketed IPv6 literal; then an optional port.
HOST_HEADER = re.compile(
    r"(?:\[(?P<literal>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::(?P<port>[0-9]{1,5}))?"
)


def csp_nonce(request: Request) -> str:
    """The Content-Security-Policy nonce of this request ('' outside SecurityHeaders)."""
    value = request.scope.get("state", {}).get(NONCE_STATE_KEY, "")
    return str(value)


def csp_context(request: Request) -> dict[str, Any]:
    """Template context processor: govuk-frontend's template reads the nonce as cspNonce."""
    return {"cspNonce": csp_nonce(request)}


async def read_form(
    request: Request, *, max_files: int = FORM_MAX_FILES, max_fields: int = FORM_MAX_FIELDS
) -> FormData:
    """The request's form, parsed within this module's field, file and part bounds (a page
    that takes files, or more fields, says how many). Parsed once: a second call answers the
    form the first read."""
    return await request.form(
        max_files=max_files, max_fields=max_fields, max_part_size=FORM_MAX_PART_BYTES
    )


def allow_larger_body(app: Starlette, path: str, limit: int) -> None:
    """Let requests to path have bodies of up to limit bytes (a page that takes files), past
    [web] max_body_bytes. Call it before install_hardening (features install first).

    A segment of path written {name} stands for any one segment (no "/"), as in a route."""
    larger = larger_bodies(app)
    larger[path] = max(limit, larger.get(path, 0))
    setattr(app.state, LARGER_BODIES, larger)


def larger_bodies(app: Starlette) -> dict[str, int]:
    """The paths allowed larger bodies, and their limits (allow_larger_body)."""
    return dict(getattr(app.state, LARGER_BODIES, {}))


def form_text(form: FormData, name: str) -> str:
    """The text of the form's field name (its last value), or '' when it is not there."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def form_texts(form: FormData, name: str) -> list[str]:
    """Every text value of the form's field name, in order."""
    return [value for value in form.getlist(name) if isinstance(value, str)]


def content_security_policy(nonce: str) -> str:
    """The policy of every response: our own origin only, the nonce for the inline script."""
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            # No form-action: Chromium applies it to the redirects after a POST, and sign-in
            # and consent forms end in a redirect to another node of the federation.
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """Add the security headers to every HTTP response, with a fresh CSP nonce each time."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.hsts = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Set scope's nonce and add the headers at the start of the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[NONCE_STATE_KEY] = nonce
        extra = [
            (b"content-security-policy", content_security_policy(nonce).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if self.hsts:
            extra.append((b"strict-transport-security", b"max-age=31536000"))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def host_name(value: str) -> str:
    """The host name of a Host header or URL netloc, lower case, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def strict_host_name(value: str) -> str | None:
    """The host name of a Host header that is a host and an optional port 1-65535, else None."""
    found = HOST_HEADER.fullmatch(value.lower())
    if found is None or (found["port"] is not None and not 0 < int(found["port"]) < 65_536):
        return None
    if found["literal"] is None:
        return str(found["name"])
    try:
        ipaddress.IPv6Address(found["literal"])
    except ValueError:
        return None
    return str(found["literal"])


def allowed_host_names(base_url: str, extra: Iterable[str]) -> frozenset[str]:
    """The base URL's host, the configured extras, and the loopback names for a loopback one."""
    base = host_name(urlsplit(base_url).netloc)
    names = {base, *(host_name(name) for name in extra)}
    if base in LOOPBACK_NAMES:
        names |= LOOPBACK_NAMES
    return frozenset(names)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _wants_html(scope: Scope) -> bool:
    return "text/html" in (_header(scope, b"accept") or "")


async def send_problem(scope: Scope, send: Send, problem: Problem) -> None:
    """Answer with problem as application/problem+json."""
    body = json.dumps(problem.to_dict(scope["path"])).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TrustedHostGate:
    """Refuse (400 untrusted-host) a request for a host name this node does not answer to."""

    def __init__(self, app: ASGIApp, *, hosts: Collection[str]) -> None:
        self.app = app
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on when its Host is allowed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"]
        # Exactly one Host, strictly a host and a port: a repeated one is refused whatever it says.
        if len(hosts) != 1 or strict_host_name(hosts[0]) not in self.hosts:
            shown = ", ".join(hosts) if hosts else None
            problem = Problem(
                "untrusted-host", f"this server does not answer for the host {shown!r}"
            )
            await send_problem(scope, send, problem)
            return
        await self.app(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass


def _path_pattern(path: str) -> re.Pattern[str]:
    """path as a pattern: each {name} is one segment, the rest is matched as it is."""
    parts = PATH_PARAMETER.split(path)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


class BodyLimit:
    """Answer 413 to a request body past the limit, before the app reads more of it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        templates: Jinja2Templates,
        larger: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.templates = templates
        self.larger = {p: n for p, n in (larger or {}).items() if not PATH_PARAMETER.search(p)}
        self.patterns = [
            (_path_pattern(p), n) for p, n in (larger or {}).items() if PATH_PARAMETER.search(p)
        ]

    def limit_of(self, path: str) -> int:
        """The body limit of a request to path."""
        if path in self.larger:
            return self.larger[path]
        found = [n for pattern, n in self.patterns if pattern.fullmatch(path)]
        return max(found) if found else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length, then count the bytes the app reads."""
        if scope["type"] != "http" or scope["path"].startswith(EXCHANGE_PREFIX):
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self.refuse(scope, receive, send, limit)
            return
        state = {"read": 0, "answered": False, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            state["read"] += len(message.get("body", b""))
            if state["read"] > limit:
                if not state["started"]:
                    state["answered"] = True
                    await self.refuse(scope, receive, send, limit)
                raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            if state["answered"]:
                return  # the 413 is sent; whatever the app answers to the error is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLargeError:
            if not state["answered"]:
                raise

    async def refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """The 413: the error page for a browser, problem+json for anything else."""
        detail = f"this server accepts request bodies of at most {limit} bytes"
        if not _wants_html(scope):
            problem = Problem("body-too-large", detail, {"limit_bytes": limit})
            await send_problem(scope, send, problem)
            return
        detail = _("This server accepts at most %(limit)d bytes from a form.") % {"limit": limit}
        context = {"status": 413, "title": _("What you sent is too large"), "detail": detail}
        page = self.templates.TemplateResponse(
            Request(scope, receive), "error.html", context, status_code=413
        )
        page.headers["connection"] = "close"
        await page(scope, receive, send)


def install_hardening(
    app: Starlette, *, base_url: str, edge: EdgeSection, templates: Jinja2Templates
) -> None:
    """Add the three middlewares to app; call it last so that they run first."""
    app.add_middleware(
        BodyLimit, limit=edge.max_body_bytes, templates=templates, larger=larger_bodies(app)
    )
    app.add_middleware(TrustedHostGate, hosts=allowed_host_names(base_url, edge.allowed_hosts))
    app.add_middleware(SecurityHeaders, https=base_url.startswith("https://"))


def server_options(edge: EdgeSection) -> dict[str, Any]:
    """uvicorn options: believe X-Forwarded-* only from [web] trusted_proxies (none: never)."""
    if not edge.trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": None, "server_header": False}
    return {
        "proxy_headers": True,
        "forwarded_allow_ips": list(edge.trusted_proxies),
        "server_header": False,
    }
