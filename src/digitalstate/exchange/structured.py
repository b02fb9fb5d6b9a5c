"""The small part of RFC 8941 Structured Field Values that HTTP Message Signatures need.

Dictionaries whose members are items or inner lists, with parameters; items that are strings,
tokens, integers, byte sequences or booleans. Parsing is strict: anything outside the grammar
raises FieldError (a ValueError), so a malformed header is refused rather than guessed at.

Parsing is bounded and linear: a value longer than Bounds.max_length is refused before it is
read, the counts of members, parameters and inner-list items are checked as they are read (so
the work stops at the bound, not after the whole value), and repeated keys are folded through
a dict. RFC 8941 §3 lets a parser set such limits; ours are a few times what the federation's
own headers need (docs/exchange.md, "Bounds").
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Token:
    """An sf-token (unquoted), kept apart from sf-string."""

    value: str


# Token must exist before this alias: a string forward reference in a runtime union is a
# TypeError, which made the whole module (and every importer) fail to load.
BareItem = str | int | bytes | bool | Token
Params = tuple[tuple[str, BareItem], ...]


@dataclass(frozen=True, slots=True)
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Params = ()


@dataclass(frozen=True, slots=True)
class InnerList:
    """An inner list of items with the list's own parameters."""

    items: tuple[Item, ...]
    params: Params = ()


class FieldError(ValueError):
    """A header value outside the part of the RFC 8941 grammar read here."""


class FieldTooLargeError(FieldError):
    """A header value longer, or with more members or parameters, than its bounds allow."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """How much of a structured header value is read before it is refused."""

    max_length: int = 4096
    max_members: int = 16
    max_params: int = 16
    max_inner_list: int = 32


DEFAULT_BOUNDS = Bounds()
# An error message quotes at most this much of the value, so a refusal stays small.
_EXCERPT = 64

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_SIMPLE_STRING = re.compile(r'"([ !#-\[\]-~]*)"')
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _Parser:
    __slots__ = ("bounds", "pos", "text")

    def __init__(self, text: str, bounds: Bounds) -> None:
        self.text = text
        self.pos = 0
        self.bounds = bounds

    def fail(self, what: str) -> FieldError:
        excerpt = self.text[max(0, self.pos - _EXCERPT // 2) :][:_EXCERPT]
        return FieldError(f"{what} at position {self.pos} (near {excerpt!r})")

    def too_many(self, what: str, limit: int) -> FieldTooLargeError:
        return FieldTooLargeError(f"more than {limit} {what} (at position {self.pos})")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.pos += 1

    def key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a key")
        self.pos = match.end()
        return match.group()

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == ":":
            match = _BYTES.match(self.text, self.pos)
            if not match:
                raise self.fail("unterminated byte sequence")
            self.pos = match.end()
            try:
                return base64.b64decode(match.group(1), validate=True)
            except binascii.Error as exc:
                raise self.fail("byte sequence is not base64") from exc
        if char == "?":
            if self.text[self.pos : self.pos + 2] in ("?0", "?1"):
                self.pos += 2
                return self.text[self.pos - 1] == "1"
            raise self.fail("bad boolean")
        if char == "-" or char.isdigit():
            match = _INTEGER.match(self.text, self.pos)
            if not match or (match.end() < len(self.text) and self.text[match.end()] == "."):
                raise self.fail("expected an integer")
            self.pos = match.end()
            return int(match.group())
        match = _TOKEN.match(self.text, self.pos)
        if not match:
            raise self.fail("expected an item")
        self.pos = match.end()
        return Token(match.group())

    def string(self) -> str:
        simple = _SIMPLE_STRING.match(self.text, self.pos)
        if simple:  # the common case: no escapes, one regex step instead of a loop per char
            self.pos = simple.end()
            return simple.group(1)
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise self.fail("bad escape in string")
                out.append(nxt)
                self.pos += 1
            elif char == '"':
                return "".join(out)
            elif not (" " <= char <= "~"):
                raise self.fail("non-ASCII or control character in string")
            else:
                out.append(char)
        raise self.fail("unterminated string")

    def params(self) -> Params:
        # RFC 8941 4.2.3.2: a repeated key overwrites the value in place, keeping its order,
        # which is what assigning to a dict key does (one step, not a scan of earlier keys).
        out: dict[str, BareItem] = {}
        count = 0
        while self.peek() == ";":
            count += 1
            if count > self.bounds.max_params:  # repeats count: each one is work to read
                raise self.too_many("parameters", self.bounds.max_params)
            self.pos += 1
            self.skip_sp()
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            out[name] = value
        return tuple(out.items())

    def item_or_inner_list(self) -> Item | InnerList:
        if self.peek() != "(":
            value = self.bare_item()
            return Item(value, self.params())
        self.pos += 1
        items: list[Item] = []
        while True:
            self.skip_sp()
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.params())
            if len(items) >= self.bounds.max_inner_list:
                raise self.too_many("inner-list items", self.bounds.max_inner_list)
            value = self.bare_item()
            items.append(Item(value, self.params()))
            if self.peek() not in (" ", ")"):
                raise self.fail("expected a space or ')' in inner list")

    def dictionary(self) -> dict[str, Item | InnerList]:
        out: dict[str, Item | InnerList] = {}
        count = 0
        self.skip_sp()
        while self.pos < len(self.text):
            count += 1
            if count > self.bounds.max_members:
                raise self.too_many("dictionary members", self.bounds.max_members)
            name = self.key()
            if self.peek() == "=":
                self.pos += 1
                out[name] = self.item_or_inner_list()
            else:
                out[name] = Item(True, self.params())
            self.skip_ows()
            if self.pos >= len(self.text):
                return out
            if self.peek() != ",":
                raise self.fail("expected ',' between dictionary members")
            self.pos += 1
            self.skip_ows()
            if self.pos >= len(self.text):
                raise self.fail("trailing comma")
        return out


def parse_dictionary(text: str, bounds: Bounds = DEFAULT_BOUNDS) -> dict[str, Item | InnerList]:
    """Parse an sf-dictionary header value within bounds; raise FieldError otherwise."""
    if len(text) > bounds.max_length:
        raise FieldTooLargeError(f"{len(text)} characters; at most {bounds.max_length}")
    return _Parser(text, bounds).dictionary()


_MAX_INTEGER = 999_999_999_999_999
_STRING = re.compile(r"[ -~]*")


def serialize_bare_item(value: BareItem) -> str:
    """Serialise a bare item canonically; raise ValueError for what RFC 8941 cannot carry.

    Refusing here (RFC 8941 4.1) keeps a control character, a line break or a non-ASCII
    character in, say, a key id from being written into a header verbatim.
    """
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > _MAX_INTEGER:
            raise ValueError(f"integer {value} is outside the range of an sf-integer")
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        if not _TOKEN.fullmatch(value.value):
            raise ValueError(f"{value.value!r} is not an sf-token")
        return value.value
    if isinstance(value, str):
        if not _STRING.fullmatch(value):
            raise ValueError(f"{value!r} holds characters an sf-string cannot carry")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise ValueError(f"{type(value).__name__} is not a structured field bare item")


def serialize_key(key: str) -> str:
    """Check that key is an sf-key (lower case) and return it."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"{key!r} is not an sf-key")
    return key


def serialize_params(params: Params) -> str:
    """Serialise parameters canonically (a true boolean has no value)."""
    return "".join(
        f";{serialize_key(k)}" if v is True else f";{serialize_key(k)}={serialize_bare_item(v)}"
        for k, v in params
    )


def serialize_item(item: Item) -> str:
    """Serialise an item with its parameters."""
    return serialize_bare_item(item.value) + serialize_params(item.params)


def serialize_inner_list(inner: InnerList) -> str:
    """Serialise an inner list with its parameters."""
    members = " ".join(serialize_item(i) for i in inner.items)
    return f"({members}){serialize_params(inner.params)}"


def serialize_dictionary(members: Mapping[str, Item | InnerList]) -> str:
    """Serialise an sf-dictionary; a member whose value is true is written as its key alone."""
    out: list[str] = []
    for key, member in members.items():
        if isinstance(member, InnerList):
            out.append(f"{serialize_key(key)}={serialize_inner_list(member)}")
        elif member.value is True:
            out.append(serialize_key(key) + serialize_params(member.params))
        else:
            out.append(f"{serialize_key(key)}={serialize_item(member)}")
    return ", ".join(out)
