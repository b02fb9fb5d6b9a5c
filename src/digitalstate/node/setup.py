"""Set up a new node: its key pair (mode 0600) and its settings file."""

from __future__ import annotations

import tomllib
from pathlib import Path

from digitalstate.keys import KeyPair
from digitalstate.settings import (
    NodeSettings,
    SettingsError,
    load_node_settings,
    settings_from_data,
)
from digitalstate.tomlwrite import Value, dumps, write_new

NODE_CONFIG = "node.toml"


def init_node(
    directory: Path,
    *,
    member_id: str,
    name: str,
    roles: list[str],
    host: str,
    port: int,
    base_url: str,
    anchor_url: str,
    anchor_public_key: str,
    database_url: str = "",
    extra: dict[str, dict[str, Value]] | None = None,
) -> NodeSettings:
    """Create directory/node.toml and directory/node.key; refuse to replace either."""
    config = directory / NODE_CONFIG
    if config.exists():
        raise SettingsError(f"{config}: already exists; this directory holds a node")
    tables: dict[str, dict[str, Value]] = {
        "node": {
            "id": member_id,
            "name": name,
            "roles": roles,
            "base_url": base_url,
            "host": host,
            "port": port,
            "data_dir": ".",
            "key_file": "node.key",
        },
        "federation": {"anchor_url": anchor_url, "anchor_public_key": anchor_public_key},
    }
    if database_url:
        tables["database"] = {"url": database_url}
    for section, values in (extra or {}).items():
        tables.setdefault(section, {}).update(values)
    text = dumps(tables, header=f"Node {member_id}. See docs/configuration.md.")
    # Validate before writing anything, so a bad argument leaves nothing half-made.
    settings_from_data(NodeSettings, config, tomllib.loads(text))
    key_path = directory / "node.key"
    if key_path.exists():
        raise SettingsError(
            f"{key_path}: a key already exists here; remove it or use another --dir"
        )
    directory.mkdir(parents=True, exist_ok=True)
    KeyPair.generate().save(key_path)
    write_new(config, text)
    return load_node_settings(config)
