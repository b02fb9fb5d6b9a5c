"""Sessions and CSRF protection for people's pages, on every node (docs/adr/0008, 0013).

A session is Starlette's cookie, sealed (encrypted and authenticated) under the node's
session key so that no other node can read it, named ``ds-<member id>`` so that nodes
on one host, which share cookies across ports, keep apart. Every POST form carries a
synchroniser token kept in the session (``csrf_token(request)``, also a Jinja global) and is
refused with a 403 page unless the token matches (``require_csrf``). Who is signed in is not
in the cookie: it holds a session id whose row in the database says (``signed_in``), so that
signing out, or signing out everywhere, ends the session for every copy of the cookie.

A feature whose pages must not share people's sessions (staff, under /staff) adds a **session
zone** (``add_session_zone``): the pages under its prefix get a cookie of their own
(``ds-<member id>.<zone>``, path the prefix), sealed under a key of their own (derived from the
session key), with their own CSRF token and their own store of sessions, which finds only the
zone's kind of session (docs/adr/0018). People's cookie is never read there, and the zone's
cookie never reaches people's pages. Every helper below works in whichever session the
request has.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from itsdangerous.exc import BadSignature
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from digitalstate.files import SecretFileError, load_or_create_secret
from digitalstate.web.hardening import read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.session_store import Also, SignedIn, SqlSessionStore

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.templating import Jinja2Templates

    from digitalstate.node.runtime import NodeRuntime

SESSION_KEY_FILE = "session.key"
CSRF_FIELD = "csrf_token"
CSRF_SESSION_KEY = "csrf"
SESSION_ID_KEY = "sid"
_UNCHECKED = object()  # request.state.signed_in before the session's row was read
CSRF_FAILED_MESSAGE = N_("This form has expired. Go back, refresh the page and try again.")
# Machine paths never read a session: skipping them keeps the exchange's hot path as it was.
SESSIONLESS_PREFIXES = ("/exchange/", "/static/", "/healthz", "/readyz", "/.well-known/")
STORE_SCOPE_KEY = "digitalstate.session_store"  # the store of the request's session, in scope
_ZONE_KEY_PERSON = b"ds-session-zone"  # BLAKE2b personalisation of a zone's sealing key


class SessionKeyError(SecretFileError):
    """The session key file is unreadable, too open or malformed."""


def session_cookie_name(member_id: str, zone: str | None = None) -> str:
    """The cookie a node's sessions live in; a zone's has its name after a dot.

    Member ids have no dot, so no zone's cookie is ever another member's people's cookie.
    """
    return f"ds-{member_id}" if zone is None else f"ds-{member_id}.{zone}"


def zone_sealing_key(session_key: bytes, zone: str) -> bytes:
    """The key a zone's cookie is sealed under: the session key's, derived for the zone alone.

    A cookie of one zone (people's too) therefore cannot be opened in another, even on the
    same node; no new secret file is needed.
    """
    return hashlib.blake2b(
        zone.encode(), key=session_key, digest_size=32, person=_ZONE_KEY_PERSON
    ).digest()


def load_or_create_session_key(directory: Path) -> bytes:
    """The node's 32-byte session signing key from directory, made (mode 0600) on first use."""
    return load_or_create_secret(
        directory / SESSION_KEY_FILE, what="session key", error=SessionKeyError
    )


class SealedCookie:
    """Encrypts and authenticates the session cookie (XSalsa20-Poly1305), with its age.

    Starlette only signs its cookie, so its content is readable base64. Nodes on one host
    share cookies across ports: a signed cookie would show the charter's internal person id,
    and one node's pseudonym for a person, to every other node there (DESIGN §3). Sealed, a
    cookie means nothing to any node but the one that made it. It stands in for Starlette's
    itsdangerous signer: sign() seals, unsign() opens and checks the age.
    """

    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(key)

    def sign(self, value: bytes) -> bytes:
        """Seal value with the time it was sealed."""
        stamped = int(time.time()).to_bytes(8, "big") + value
        return base64.urlsafe_b64encode(bytes(self._box.encrypt(stamped)))

    def unsign(self, value: bytes, max_age: int | None = None) -> bytes:
        """Open a sealed value no older than max_age; BadSignature otherwise."""
        try:
            stamped = self._box.decrypt(base64.urlsafe_b64decode(value))
        except (CryptoError, ValueError, TypeError) as exc:
            raise BadSignature("the session cookie cannot be opened") from exc
        sealed_at = int.from_bytes(stamped[:8], "big")
        if max_age is not None and time.time() - sealed_at > max_age:
            raise BadSignature("the session cookie has expired")
        return stamped[8:]


@dataclass(frozen=True)
class SessionZone:
    """Pages under prefix with sessions of their own: cookie, sealing key, CSRF token and store."""

    name: str  # the cookie's suffix, e.g. "staff"
    prefix: str  # e.g. "/staff": the path itself and everything under it
    store: SqlSessionStore  # finds only the zone's kind of session
    max_age: int  # seconds the cookie lasts in the browser

    def covers(self, path: str) -> bool:
        """True for the prefix and the paths under it (not /staffing for /staff)."""
        return path == self.prefix or path.startswith(self.prefix + "/")


class NodeSessionMiddleware(SessionMiddleware):
    """Starlette's cookie sessions, sealed, left out of machine paths (exchange, health, static).

    A path a zone covers gets the zone's cookie instead of people's (zones: the list that
    add_session_zone fills while the features install, before the app serves). An app without
    sign-ins in the database (the mail catcher's) gives no store and no zones.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        sealing_key: bytes,
        store: SqlSessionStore | None = None,
        zones: list[SessionZone] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(app, secret_key=sealing_key.hex(), **options)
        self.signer = SealedCookie(sealing_key)  # type: ignore[assignment]
        self.sealing_key = sealing_key
        self.options = options
        self.store = store
        self.zones = zones or []
        self._zoned: dict[str, SessionMiddleware] = {}

    def _zone_middleware(self, zone: SessionZone) -> SessionMiddleware:
        """The cookie sessions of zone around the same app (made on the zone's first request)."""
        found = self._zoned.get(zone.name)
        if found is None:
            key = zone_sealing_key(self.sealing_key, zone.name)
            options = {**self.options, "max_age": zone.max_age, "path": zone.prefix}
            options["session_cookie"] = f"{self.session_cookie}.{zone.name}"
            found = SessionMiddleware(self.app, secret_key=key.hex(), **options)
            found.signer = SealedCookie(key)  # type: ignore[assignment]
            self._zoned[zone.name] = found
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with scope["session"] of the path's zone, except on machine paths."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(SESSIONLESS_PREFIXES):
            await self.app(scope, receive, send)
            return
        for zone in self.zones:
            if zone.covers(path):
                scope[STORE_SCOPE_KEY] = zone.store
                await self._zone_middleware(zone)(scope, receive, send)
                return
        if self.store is not None:
            scope[STORE_SCOPE_KEY] = self.store
        await super().__call__(scope, receive, send)


class CsrfRejectedError(Exception):
    """A form arrived without the session's CSRF token; it must not be processed."""


class RedirectTo(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a dependency to send the browser elsewhere with 303 See Other."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def install_sessions(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add signed-cookie sessions, the CSRF refusal page and dependency redirects to app."""
    settings = node.settings
    lifetime = settings.web.session_hours * 3600
    store = app.state.session_store = SqlSessionStore(
        node.sessions,
        idle=timedelta(minutes=settings.web.session_idle_minutes),
        absolute=timedelta(seconds=lifetime),
        acting=timedelta(minutes=settings.web.acting_session_minutes),
    )
    app.state.session_zones = []
    app.add_middleware(
        NodeSessionMiddleware,  # type: ignore[arg-type]
        sealing_key=load_or_create_session_key(settings.data_dir),
        store=store,
        zones=app.state.session_zones,
        session_cookie=session_cookie_name(settings.node.id),
        max_age=max(1, int(lifetime)),
        same_site="lax",
        https_only=settings.node.base_url.startswith("https://"),
    )

    async def on_csrf_rejected(request: Request, exc: Exception) -> Response:
        return templates.TemplateResponse(
            request,
            "identity/csrf_failed.html",
            {"message": _(CSRF_FAILED_MESSAGE), "node": settings.node},
            status_code=403,
        )

    async def on_redirect(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RedirectTo)
        return RedirectResponse(exc.location, status_code=303)

    app.add_exception_handler(CsrfRejectedError, on_csrf_rejected)
    app.add_exception_handler(RedirectTo, on_redirect)


def add_session_zone(app: FastAPI, zone: SessionZone) -> None:
    """Give the pages under zone.prefix sessions of their own (at install, after identity's).

    The zone's cookie is ``ds-<member id>.<zone.name>`` with path zone.prefix, sealed under
    zone_sealing_key, same-site and secure as people's; zone.store keeps its sessions.
    """
    if app.middleware_stack is not None:
        raise RuntimeError("a session zone is added while the features install, not later")
    zones: list[SessionZone] = app.state.session_zones
    if any(z.name == zone.name or z.prefix == zone.prefix for z in zones):
        raise ValueError(f"a session zone named {zone.name!r} or at {zone.prefix} exists")
    zones.append(zone)


def session_store(request: Request) -> SqlSessionStore:
    """The store of the request's sessions: its zone's, else people's."""
    store: SqlSessionStore = request.scope.get(STORE_SCOPE_KEY) or request.app.state.session_store
    return store


def signed_in(request: Request) -> SignedIn | None:
    """Who this request's session is signed in as, from its database row (read once a request).

    Blocking: call it from a sync route or dependency (the thread pool), never the event loop.
    """
    cached: Any = getattr(request.state, "signed_in", _UNCHECKED)
    if cached is not _UNCHECKED:
        return cached if isinstance(cached, SignedIn) else None
    session_id = request.session.get(SESSION_ID_KEY)
    found = session_store(request).find(session_id) if isinstance(session_id, str) else None
    request.state.signed_in = found
    return found


def start_session(
    request: Request,
    kind: str,
    subject: str,
    *,
    acr: str | None = None,
    act: str | None = None,
    act_until: datetime | None = None,
    also: Also | None = None,
) -> None:
    """Sign in: end the session the cookie had, then start one under a new id and CSRF token.

    The id is always new, so a session id planted in a browser before sign-in, or a copy of
    the cookie from an earlier sign-in, never becomes this sign-in (session fixation).
    also(db) runs in the transaction that starts the session.
    """
    end_session(request)
    store = session_store(request)
    request.session[SESSION_ID_KEY] = store.start(
        kind, subject, acr=acr, acting_for=act, acting_until=act_until, also=also
    )
    request.state.signed_in = _UNCHECKED


def end_session(request: Request, *, also: Also | None = None) -> None:
    """Sign out: revoke the cookie's session in the database and start an empty session.

    also(db) runs in the transaction that revokes it (not at all when the cookie held none).
    """
    session_id = request.session.get(SESSION_ID_KEY)
    if isinstance(session_id, str):
        session_store(request).end(session_id, also=also)
    rotate_session(request)
    request.state.signed_in = None


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use; put it in every POST form."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return token


def csrf_matches(expected: object, sent: object) -> bool:
    """True when the token sent with a form is the session's token (in constant time)."""
    if not isinstance(expected, str) or not isinstance(sent, str) or not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


async def require_csrf(request: Request) -> None:
    """FastAPI dependency for POST forms: refuse (403 page) unless csrf_token matches."""
    form = await read_form(request)
    if not csrf_matches(request.session.get(CSRF_SESSION_KEY), form.get(CSRF_FIELD)):
        raise CsrfRejectedError


def rotate_session(request: Request, *, keep: Collection[str] = ()) -> None:
    """Start a fresh session at a sign-in: drop all but keep, and issue a new CSRF token."""
    session = request.session
    kept = {name: session[name] for name in keep if name in session}
    session.clear()
    session.update(kept)
    session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)


def local_path(value: str | None, default: str = "/") -> str:
    """value when it is a path on this node (to return to after sign-in), else default."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def current_path(request: Request) -> str:
    """The path and query of request, to come back to after a sign-in."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
