"""A simulated person's browser for `digitalstate bench services`: aiohttp, one cookie jar each.

It follows redirects, reads the forms of each page (their hidden inputs, such as the CSRF token,
and the choices they offer) and posts them back with the answers given, as a browser without
JavaScript does. For every response on the way (redirects included) it keeps the server's own
time, from the `Server-Timing: app;dur=<ms>` header every node sends (web/timing.py), and
counts the page as an error when its status is not the one expected.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import aiohttp

SERVER_TIMING = re.compile(r"(?:^|,)\s*app\s*;[^,]*?\bdur=([0-9.]+)")
MAX_PAGE_BYTES = 2_000_000  # a page larger than this is an error, not something to parse


class JourneyError(Exception):
    """A page that was not what the journey expected: its reason, for the report."""


@dataclass
class Form:
    """One <form> of a page: where it posts, its hidden inputs and the choices it offers."""

    action: str
    method: str
    multipart: bool = False
    hidden: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)  # radios, checkboxes, options
    fields: list[str] = field(default_factory=list)  # every named input, in order


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            method = values.get("method", "get").lower()
            multipart = values.get("enctype", "") == "multipart/form-data"
            self.forms.append(Form(values.get("action", ""), method, multipart))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        name = values.get("name", "")
        if tag == "input" and name:
            kind = values.get("type", "text").lower()
            form.fields.append(name)
            if kind == "hidden":
                form.hidden[name] = values.get("value", "")
            elif kind in ("radio", "checkbox"):
                form.choices.setdefault(name, []).append(values.get("value", "on"))
        elif tag in ("textarea", "select") and name:
            form.fields.append(name)
            self._select = name if tag == "select" else None
        elif tag == "option" and self._select is not None:
            form.choices.setdefault(self._select, []).append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def read_forms(html: str) -> list[Form]:
    """Every form of an HTML page, in order."""
    reader = _FormReader()
    reader.feed(html)
    reader.close()
    return reader.forms


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of response; an error past limit bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65_536):
        size += len(chunk)
        if size > limit:
            raise JourneyError(f"{response.url.path}: larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


ID_SEGMENT = re.compile(r"^(?=(?:.*[0-9]){2})[A-Za-z0-9_-]{8,}$")  # a reference, token or id


def page_kind(path: str) -> str:
    """The path with its ids and references written {id}: one kind of page, whoever asked."""
    return "/".join("{id}" if ID_SEGMENT.match(part) else part for part in path.split("/"))


def server_time_ms(header: str | None) -> float | None:
    """The app's duration from a Server-Timing header, or None when it has none."""
    if not header:
        return None
    found = SERVER_TIMING.search(header)
    return float(found.group(1)) if found else None


@dataclass
class Page:
    """The page a request ended on, after its redirects."""

    url: str
    status: int
    text: str
    history: list[str]

    @property
    def path(self) -> str:
        """The page's path, without its query."""
        return urlsplit(self.url).path

    def form(self, action_contains: str = "") -> Form:
        """The page's first form whose action contains action_contains (one posting, not GET)."""
        for form in read_forms(self.text):
            if form.method == "post" and action_contains in form.action:
                return form
        raise JourneyError(f"{self.path}: no form posting to ...{action_contains}")


@dataclass
class Timings:
    """What every simulated person measured: server and client times, and errors."""

    server_ms: list[float] = field(default_factory=list)  # one per response, redirects too
    by_page: dict[str, list[float]] = field(default_factory=dict)  # "GET /path" -> server_ms
    untimed: int = 0  # responses without a Server-Timing header
    client_ms: list[float] = field(default_factory=list)  # per request, redirects followed


class Browser:
    """One person's browser: their own cookie jar; every response timed."""

    def __init__(self, connector: aiohttp.BaseConnector, timings: Timings) -> None:
        # unsafe: keep cookies for an IP address host (the nodes listen on 127.0.0.1).
        self.http = aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        self.timings = timings

    async def close(self) -> None:
        """Let go of the session (the shared connector stays)."""
        await self.http.close()

    async def get(self, url: str, expect: int = 200) -> Page:
        """GET url, following redirects; the page, which must have status expect."""
        return await self._request("GET", url, None, expect)

    async def post(
        self, page: Page, form: Form, answers: Mapping[str, str | list[str]], expect: int = 200
    ) -> Page:
        """Post form of page with its hidden inputs and answers; the page it ends on."""
        pairs: list[tuple[str, str]] = list(form.hidden.items())
        for name, value in answers.items():
            pairs += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
        data: list[tuple[str, str]] | aiohttp.FormData = pairs
        if form.multipart:  # a page with a file question: no file chosen, as a browser sends it
            data = aiohttp.FormData(pairs, default_to_multipart=True)
        return await self._request("POST", urljoin(page.url, form.action), data, expect)

    async def _request(
        self,
        method: str,
        url: str,
        data: list[tuple[str, str]] | aiohttp.FormData | None,
        expect: int,
    ) -> Page:
        began = time.perf_counter()
        async with self.http.request(method, url, data=data, max_redirects=20) as response:
            body = await read_bounded(response, MAX_PAGE_BYTES)
            answers = (*response.history, response)
            for n, answer in enumerate(answers):
                spent = server_time_ms(answer.headers.get("server-timing"))
                if spent is None:
                    self.timings.untimed += 1
                    continue
                self.timings.server_ms.append(spent)
                asked = method if n == 0 else "GET"  # a 303 or 302 is followed with a GET
                key = f"{asked} {page_kind(answer.url.path)}"
                self.timings.by_page.setdefault(key, []).append(spent)
            page = Page(
                str(response.url),
                response.status,
                body.decode(response.charset or "utf-8", errors="replace"),
                [str(r.url) for r in response.history],
            )
        self.timings.client_ms.append((time.perf_counter() - began) * 1000)
        if page.status != expect:
            raise JourneyError(f"{method} {urlsplit(url).path}: {page.status}, not {expect}")
        return page
