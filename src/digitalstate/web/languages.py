"""Which language a page is in: ?lang=, then the ds-lang cookie, then Accept-Language.

``LanguageChoice`` (a pure ASGI middleware, outermost) picks the language of every request
from the languages the node offers (``[web] languages``, the first the default) and makes it
current for the request (web/i18n.py). ``?lang=cy`` on any page chooses Welsh and sets the
``ds-lang`` cookie so that the choice sticks; a value the node does not offer is ignored (never
echoed back). Without a choice, the browser's Accept-Language picks, and then the default.

``request_language(request)`` is the code for the pages that pick a text by language
themselves (a service definition's {en, cy} texts); ``language_toggle(request)`` is what the
header's language toggle shows. docs/adr/0018-languages.md says why a cookie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digitalstate.web.i18n import LANGUAGES, current_language, reset_language, set_language

COOKIE = "ds-lang"
QUERY = "lang"
STATE_KEY = "language"
STATE_OFFERED = "languages"
COOKIE_MAX_AGE = 365 * 24 * 3600
VARY = b"Cookie, Accept-Language"
# Bounds on what is read from outside: a longer header or query is read only this far.
ACCEPT_LANGUAGE_MAX_CHARS = 512
ACCEPT_LANGUAGE_MAX_RANGES = 32
QUERY_MAX_BYTES = 4096
COOKIE_HEADER_MAX_CHARS = 8192
# Machine paths: no page, no language, no cookie.
SKIPPED_PREFIXES = ("/exchange/", "/static/", "/healthz", "/readyz", "/metrics")


def accept_language(header: str, offered: Sequence[str]) -> str | None:
    """The offered language the Accept-Language header prefers most (q > 0), or None.

    A range matches by its primary subtag ('cy-GB' is 'cy'); '*' matches nothing in particular.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:ACCEPT_LANGUAGE_MAX_CHARS].split(",")):
        if position >= ACCEPT_LANGUAGE_MAX_RANGES:
            break
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip()[:5])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-", 1)[0]
        if quality > 0 and primary in offered:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie(scope: Scope, name: str) -> str | None:
    for part in _header(scope, b"cookie")[:COOKIE_HEADER_MAX_CHARS].split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip()
    return None


def chosen_in_query(query_string: bytes, offered: Sequence[str]) -> str | None:
    """The offered language that ?lang= names, or None (absent, or one not offered)."""
    if b"lang=" not in query_string:
        return None
    query = query_string[:QUERY_MAX_BYTES].decode("latin-1")
    values = [value for key, value in parse_qsl(query, max_num_fields=64) if key == QUERY]
    return values[-1] if values and values[-1] in offered else None


class LanguageChoice:
    """Pick each request's language, make it current, and keep a choice made with ?lang=."""

    def __init__(self, app: ASGIApp, *, languages: Sequence[str], https: bool) -> None:
        self.app = app
        self.offered = tuple(languages)
        self.secure = "; Secure" if https else ""

    def pick(self, scope: Scope) -> tuple[str, bool]:
        """The request's language, and whether it was chosen now (so the cookie is set)."""
        chosen = chosen_in_query(scope.get("query_string", b""), self.offered)
        kept = _cookie(scope, COOKIE)
        if chosen is not None:
            return chosen, chosen != kept
        if kept in self.offered:
            return str(kept), False
        preferred = accept_language(_header(scope, b"accept-language"), self.offered)
        return preferred or self.offered[0], False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app in the request's language, adding the cookie when it was chosen now."""
        if scope["type"] != "http" or scope["path"].startswith(SKIPPED_PREFIXES):
            await self.app(scope, receive, send)
            return
        language, remember = self.pick(scope)
        state = scope.setdefault("state", {})
        state[STATE_KEY] = language
        state[STATE_OFFERED] = self.offered
        cookie = (
            f"{COOKIE}={language}; Path=/; Max-Age={COOKIE_MAX_AGE}; SameSite=Lax; HttpOnly"
            f"{self.secure}"
        ).encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A cache must not give one person's language to another.
                extra = [(b"vary", VARY)] + ([(b"set-cookie", cookie)] if remember else [])
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        token = set_language(language)
        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            reset_language(token)


def request_language(request: Request) -> str:
    """The language code request's page is in ('en' or 'cy'): pick a definition's text by it."""
    value = request.scope.get("state", {}).get(STATE_KEY)
    return value if isinstance(value, str) else current_language()


@dataclass(frozen=True)
class ToggleLink:
    """One language in the toggle: its own name, and a link unless it is the page's."""

    code: str
    name: str
    switch: str
    href: str | None


def language_toggle(request: Request) -> list[ToggleLink]:
    """The languages the node offers, for the header's toggle; empty when it offers one.

    Each link is the page's own query with ?lang= set (a filter or a next= survives), relative
    so that it stays on the page's path whatever the path was.
    """
    offered = request.scope.get("state", {}).get(STATE_OFFERED, ())
    if len(offered) < 2:
        return []
    current = request_language(request)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != QUERY][:64]
    links = []
    for code in offered:
        language = LANGUAGES[code]
        query = urlencode([*kept, (QUERY, code)])
        href = None if code == current else f"?{query}"
        links.append(ToggleLink(code, language.name, language.switch, href))
    return links


def install_languages(app: Starlette, *, languages: Sequence[str], base_url: str) -> None:
    """Add LanguageChoice to app; call it after install_hardening so that it runs first."""
    app.add_middleware(LanguageChoice, languages=languages, https=base_url.startswith("https://"))
