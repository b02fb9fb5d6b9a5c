"""A page's weight on first load: its HTML and every asset it needs, as compressed on the wire.

A first visit has nothing cached: the browser fetches the page, each stylesheet, script and
icon the HTML names, and each image or font a stylesheet names with url(...) that the node
serves (govuk-frontend's stylesheet names a crest image for a footer class the pages never use,
and which is not shipped: a browser never asks for it, so a 404 there is left out). Each is fetched
here with `Accept-Encoding: gzip`, without decompressing on the way in (aiohttp's
auto_decompress off), so the bytes counted are the body's bytes as transferred; a body that
came gzipped is then decompressed to find what it names. An asset named twice counts once.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import aiohttp

from digitalstate.benchmarks.services_browser import read_bounded

CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)""")
MAX_ASSETS = 100  # a page naming more than this is not a page to weigh
MAX_BYTES = 5_000_000


class _AssetReader(HTMLParser):
    """The URLs an HTML page makes a browser fetch: stylesheets, icons, scripts, images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        rel = values.get("rel", "").lower().split()
        if tag == "link" and values.get("href") and ({"stylesheet", "icon"} & set(rel)):
            self.urls.append(values["href"])
        elif tag in ("script", "img") and values.get("src"):
            self.urls.append(values["src"])


def assets_of_html(html: str) -> list[str]:
    """The URLs (as written) of what an HTML page loads."""
    reader = _AssetReader()
    reader.feed(html)
    reader.close()
    return reader.urls


def assets_of_css(css: str) -> list[str]:
    """The URLs (as written) a stylesheet loads with url(...), data: URLs left out."""
    return [url for url in CSS_URL.findall(css) if not url.startswith(("data:", "#"))]


@dataclass
class Weight:
    """A page's bytes on first load: the total and each resource's share."""

    url: str
    total_bytes: int = 0
    resources: dict[str, int] = field(default_factory=dict)  # path -> compressed body bytes
    unserved: list[str] = field(default_factory=list)  # named by a stylesheet, not served
    uncompressed_bytes: int = 0

    @property
    def kb(self) -> float:
        """The total in kilobytes (1,000 bytes), to one decimal place."""
        return round(self.total_bytes / 1000, 1)


async def weigh(url: str) -> Weight:
    """Fetch url and everything it loads, as a first visit; the compressed bytes of each."""
    weight = Weight(url)
    async with aiohttp.ClientSession(
        auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        queue = [(url, True)]  # (URL, must it be served: named by the page, not by a stylesheet)
        seen: set[str] = set()
        while queue:
            current, needed = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            if len(seen) > MAX_ASSETS:
                raise RuntimeError(f"{url} loads more than {MAX_ASSETS} resources")
            fetched = await _fetch(http, current, needed)
            if fetched is None:
                weight.unserved.append(urlsplit(current).path)
                continue
            body, text, kind = fetched
            weight.resources[urlsplit(current).path] = len(body)
            weight.total_bytes += len(body)
            weight.uncompressed_bytes += len(text)
            if kind.startswith("text/html") and current == url:
                named = assets_of_html(text.decode("utf-8", errors="replace"))
                queue += [(urljoin(current, found), True) for found in named]
            elif kind.startswith("text/css"):
                named = assets_of_css(text.decode("utf-8", errors="replace"))
                queue += [(urljoin(current, found), False) for found in named]
    return weight


async def _fetch(
    http: aiohttp.ClientSession, url: str, needed: bool
) -> tuple[bytes, bytes, str] | None:
    """The body as transferred, the body decoded, and its media type; None for a 404 of
    something not needed."""
    headers = {"Accept-Encoding": "gzip"}
    async with http.get(url, headers=headers) as response:
        if response.status == 404 and not needed:
            return None
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
        body = await read_bounded(response, MAX_BYTES)
        encoding = response.headers.get("content-encoding", "").lower()
        text = gzip.decompress(body) if encoding == "gzip" else body
        return body, text, response.headers.get("content-type", "").lower()
