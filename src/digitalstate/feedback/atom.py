"""The Atom 1.0 feed (RFC 4287) of a node's published stories.

Built with the standard library's ElementTree, which escapes every text and attribute, so a
story's title or body can hold <, & or quotes and the feed stays well-formed. Characters XML
1.0 does not allow (most control characters) are dropped first: ElementTree would write them
and a reader would refuse the feed (docs/adr/0026).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

ATOM = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class FeedEntry:
    """One story in the feed."""

    url: str  # the story's page: its id and its alternate link
    title: str
    body: str
    updated: datetime
    categories: tuple[str, ...] = ()


def xml_text(text: str) -> str:
    """text without the characters XML 1.0 cannot hold, its line ends as \\n (a parser would
    turn a bare \\r into \\n anyway)."""
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def rfc3339(moment: datetime) -> str:
    """A moment as Atom's dates write it, in UTC."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ElementTree.Element, tag: str, text: str | None = None, **attrs: str) -> None:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = xml_text(text)


def atom_feed(
    *,
    feed_url: str,
    page_url: str,
    title: str,
    author: str,
    entries: Sequence[FeedEntry],
    updated: datetime,
) -> bytes:
    """The feed's document: UTF-8 XML with its declaration."""
    ElementTree.register_namespace("", ATOM)
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", feed_url)
    _add(feed, "title", title)
    _add(feed, "updated", rfc3339(updated))
    _add(feed, "link", rel="self", href=feed_url, type=ATOM_MEDIA_TYPE)
    _add(feed, "link", rel="alternate", href=page_url, type="text/html")
    author_element = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _add(author_element, "name", author)
    for item in entries:
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        _add(entry, "id", item.url)
        _add(entry, "title", item.title)
        _add(entry, "updated", rfc3339(item.updated))
        _add(entry, "link", rel="alternate", href=item.url, type="text/html")
        for category in item.categories:
            _add(entry, "category", term=xml_text(category))
        _add(entry, "content", item.body, type="text")
    document: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
