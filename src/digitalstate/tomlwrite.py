"""Write the small, flat TOML files this project generates (settings for nodes and anchor).

The standard library reads TOML but does not write it; these files hold only tables of
strings, numbers, booleans and lists of strings, so a few lines suffice (docs/adr/0004).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

Scalar = str | int | float | bool
Value = Scalar | list[str]


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def dumps(tables: Mapping[str, Mapping[str, Value]], header: str = "") -> str:
    """TOML text for tables of simple values."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for name, table in tables.items():
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


def write_new(path: Path, text: str) -> None:
    """Write text to a new file, refusing to replace one that exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
