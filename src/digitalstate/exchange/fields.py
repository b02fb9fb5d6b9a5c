"""Header fields of a signed message as a receiver reads them: bounded, and each one once.

Two rules, applied before any signature is checked:

* a structured header of the exchange (Signature-Input, Signature, Content-Digest) is read only
  within the bounds of ``structured.DEFAULT_BOUNDS``; past them the message is refused with
  ``header-too-large``, before the value is parsed;
* a field that is sent more than once is remembered as repeated, so that verification can
  refuse a message that repeats a field its signature covers: the signature would cover the
  joined value while the route reads only the first (the second finding of issue 8).
"""

from __future__ import annotations

from collections.abc import Sequence

from digitalstate.exchange.structured import (
    DEFAULT_BOUNDS,
    FieldError,
    FieldTooLargeError,
    InnerList,
    Item,
    parse_dictionary,
)
from digitalstate.problems import Problem

MAX_FIELD_LENGTH = DEFAULT_BOUNDS.max_length


def collect_fields(pairs: Sequence[tuple[bytes, bytes]]) -> tuple[dict[str, str], frozenset[str]]:
    """One value per lower-case field name (repeats joined by ", ") and the names repeated."""
    # One pass in a comprehension for the usual message, where no name repeats (as many
    # names as pairs); the loop below joins repeats when some do.
    once = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in pairs}
    if len(once) == len(pairs):
        return once, frozenset()
    out: dict[str, str] = {}
    repeated: set[str] = set()
    for raw_name, raw_value in pairs:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in out:
            repeated.add(name)
            out[name] = f"{out[name]}, {value}"
        else:
            out[name] = value
    return out, frozenset(repeated)


def too_large(name: str, detail: str) -> Problem:
    """The header-too-large problem for one field."""
    return Problem(
        "header-too-large",
        f"the {name} header is too large: {detail}",
        {"header": name, "limits": _LIMITS},
    )


_LIMITS = {
    "length": DEFAULT_BOUNDS.max_length,
    "members": DEFAULT_BOUNDS.max_members,
    "parameters": DEFAULT_BOUNDS.max_params,
    "inner_list_items": DEFAULT_BOUNDS.max_inner_list,
}


def check_field_length(name: str, value: str | None) -> None:
    """Refuse a field value longer than any structured field is read (header-too-large)."""
    if value is not None and len(value) > MAX_FIELD_LENGTH:
        raise too_large(name, f"{len(value)} characters; at most {MAX_FIELD_LENGTH}")


def parse_field(name: str, value: str, malformed: str) -> dict[str, Item | InnerList]:
    """Parse a dictionary field within bounds: header-too-large past them, else malformed."""
    try:
        return parse_dictionary(value)
    except FieldTooLargeError as exc:
        raise too_large(name, str(exc)) from exc
    except FieldError as exc:
        raise Problem(malformed, f"the {name} header cannot be read: {exc}") from exc
