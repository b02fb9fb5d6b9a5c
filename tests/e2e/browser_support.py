"""A person's browser for the end-to-end tests, as plain HTTP: no JavaScript, no Chromium.

One cookie jar for every node (cookies on 127.0.0.1 are shared across ports, which is why
each node names its own), real redirects followed, and forms posted with the hidden fields
the page gave (the CSRF token among them). It keeps every response it saw, for the test that
no node but the charter ever shows a person's internal id.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


@dataclass(frozen=True)
class Seen:
    """A response the browser received: where from, its status, headers and body."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Form:
    """A form on a page: where it posts and the values it would send as it stands."""

    action: str
    fields: dict[str, str]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open = Form(found.get("action", ""), {})
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and found.get("name"):
            kind = found.get("type", "text").lower()
            if kind in ("radio", "checkbox") and "checked" not in found:
                return
            self._open.fields[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


@dataclass(frozen=True)
class Page:
    """A page the browser ended on, after following every redirect."""

    url: str
    status: int
    html: str
    history: list[str]

    @property
    def text(self) -> str:
        """The visible text of the page's main part, tags removed, spaces collapsed."""
        found = re.search(r"<main.*?</main>", self.html, re.S)
        inner = re.sub(r"<[^>]+>", " ", found.group(0) if found else self.html)
        return re.sub(r"\s+", " ", html.unescape(inner)).strip()

    def form(self, action_part: str = "") -> Form:
        """The first form whose action contains action_part."""
        parser = _FormParser()
        parser.feed(self.html)
        for form in parser.forms:
            if action_part in form.action:
                return form
        raise AssertionError(f"no form posting to *{action_part}* on {self.url}: {self.text}")

    def went_through(self, url_part: str) -> bool:
        """True when a redirect on the way here went through url_part."""
        return any(url_part in url for url in self.history)


class Browser:
    """A person's browser: one cookie jar, real redirects, forms with their hidden fields."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.http = httpx.Client(
            follow_redirects=True, timeout=20.0, event_hooks={"response": [self._keep]}
        )

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.seen.append(
            Seen(
                str(response.request.url),
                response.status_code,
                response.headers.multi_items(),
                response.content,
            )
        )

    def _page(self, response: httpx.Response) -> Page:
        return Page(
            str(response.url),
            response.status_code,
            response.text,
            [str(r.url) for r in response.history],
        )

    def get(self, url: str) -> Page:
        """Open url."""
        return self._page(self.http.get(url))

    def post(self, url: str, data: Mapping[str, str]) -> Page:
        """Post a form's values to url."""
        return self._page(self.http.post(url, data=dict(data)))

    def submit(self, page: Page, action_part: str = "", **values: str) -> Page:
        """Fill in and send a form of page, as a person pressing its button."""
        form = page.form(action_part)
        return self.post(urljoin(page.url, form.action), {**form.fields, **values})

    def close(self) -> None:
        """Close the connections."""
        self.http.close()
