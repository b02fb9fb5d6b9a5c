"""The small part of RFC 8941 Structured Field Values that HTTP Message Signatures need.

Dictionaries whose members are items or inner lists, with parameters; items that are strings,
tokens, integers, byte sequences or booleans. Parsing is strict: anything outside the grammar
raises ValueError, so a malformed header is refused rather than guessed at.
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


_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_SIMPLE_STRING = re.compile(r'"([ !#-\[\]-~]*)"')
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")


class _Parser:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{what} at position {self.pos} of {self.text!r}")

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
        out: list[tuple[str, BareItem]] = []
        while self.peek() == ";":
            self.pos += 1
            self.skip_sp()
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            # RFC 8941 4.2.3.2: a repeated key overwrites the value in place, keeping its order.
            for index, (k, _) in enumerate(out):
                if k == name:
                    out[index] = (name, value)
                    break
            else:
                out.append((name, value))
        return tuple(out)

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
            value = self.bare_item()
            items.append(Item(value, self.params()))
            if self.peek() not in (" ", ")"):
                raise self.fail("expected a space or ')' in inner list")

    def dictionary(self) -> dict[str, Item | InnerList]:
        out: dict[str, Item | InnerList] = {}
        self.skip_sp()
        while self.pos < len(self.text):
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


def parse_dictionary(text: str) -> dict[str, Item | InnerList]:
    """Parse an sf-dictionary header value."""
    return _Parser(text).dictionary()


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
