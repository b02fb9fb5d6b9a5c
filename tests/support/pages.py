"""What a page says, read from its HTML: for the tests of the pages' languages (docs/i18n.md).

visible_texts(html) is every text a person reads or hears on the page: the title, the text of
the body (not scripts), and the aria-label, title, alt and placeholder attributes. Text inside
an element with its own lang attribute is left out: it says it is in another language (the
language toggle's "Cymraeg").

unmarked(html, allowed) is what the pseudo-locale (web/i18n.py PSEUDO) left unmarked: every
text outside ⟦…⟧ that is not punctuation and that no pattern of allowed matches whole. A page
whose every message is in the catalogue leaves only values (names, dates, references).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from digitalstate.web.i18n import PSEUDO_CLOSE, PSEUDO_OPEN

READ_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")
SKIPPED = ("script", "style")
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
MARKED = re.compile(f"{PSEUDO_OPEN}[^{PSEUDO_OPEN}{PSEUDO_CLOSE}]*{PSEUDO_CLOSE}")
# Between two pieces of text: a marked message may span several (it holds markup).
BREAK = "\x00"
PUNCTUATION = " \t\r\n\u2013-:,.;()|!?'\"\u2019\u201c\u201d/"  # with the en dash and curly quotes
# Shown on every page whatever its language: the product's name and the toggle's names.
ALWAYS_ALLOWED = ("digitalstate",)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, text inside is left out)

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        skip = self.skipping or tag in SKIPPED or ("lang" in found and tag != "html")
        if not skip:
            self.texts.extend(v for k, v in attrs if k in READ_ATTRIBUTES and v)
        if tag not in VOID:
            self.stack.append((tag, skip))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skipping:
            self.texts.extend(v for k, v in attrs if k in READ_ATTRIBUTES and v)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.texts.append(data)


def visible_texts(html: str) -> list[str]:
    """Every text of the page a person reads or hears, in document order."""
    parser = _Texts()
    parser.feed(html)
    parser.close()
    return parser.texts


def unmarked(html: str, allowed: Iterable[str] = ()) -> list[str]:
    """The texts of a pseudo-locale page outside every ⟦…⟧ that allowed does not match."""
    patterns = [re.compile(p) for p in (*ALWAYS_ALLOWED, *allowed)]
    joined = BREAK.join(visible_texts(html))
    while True:  # a message inside another's placeholder: take the innermost first
        stripped = MARKED.sub(BREAK, joined)
        if stripped == joined:
            break
        joined = stripped
    left = []
    # A title's parts ("Sign in - Charter", with an en dash) are separate texts.
    for piece in re.split(f"{BREAK}|\\s[\u2013|]\\s", joined):
        text = " ".join(piece.split()).strip(PUNCTUATION)
        if text and not any(p.fullmatch(text) for p in patterns):
            left.append(text)
    return left


def shared_texts(first: str, second: str, allowed: Iterable[str] = ()) -> set[str]:
    """The texts two versions of a page both show (a translated page shares only values)."""
    patterns = [re.compile(p) for p in (*ALWAYS_ALLOWED, *allowed)]

    def texts(html: str) -> set[str]:
        found = {" ".join(t.split()).strip(PUNCTUATION) for t in visible_texts(html)}
        return {t for t in found if t and not any(p.fullmatch(t) for p in patterns)}

    return texts(first) & texts(second)
