"""Write the small, flat TOML files this project generates (settings for nodes and anchor).

The standard library reads TOML but does not write it; these files hold only tables of
strings, numbers, booleans and lists of strings, so a few lines suffice (docs/adr/0004).
toml_value also writes an inline table (the tests build service definitions with it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

Scalar = str | int | float | bool
Value = Scalar | list[str]


def toml_value(value: object) -> str:
    """value as TOML writes it: text, a number, true or false, an array, an inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    raise TypeError(f"no TOML form for {value!r}")


def dumps(tables: Mapping[str, Mapping[str, Value]], header: str = "") -> str:
    """TOML text for tables of simple values."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for name, table in tables.items():
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


def write_new(path: Path, text: str) -> None:
    """Write text to a new file, refusing to replace one that exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
