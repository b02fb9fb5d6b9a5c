"""Set up a new trust anchor: key, settings file, database and the first document."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from digitalstate.federation.domain import Catalogue, FederationDocument
from digitalstate.federation.service import FederationChangeError, issue_first
from digitalstate.keys import KeyPair
from digitalstate.settings import AnchorSettings, load_anchor_settings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade
from digitalstate.tomlwrite import dumps, write_new

ANCHOR_CONFIG = "anchor.toml"


def init_anchor(
    directory: Path,
    *,
    federation: str,
    base_url: str,
    host: str,
    port: int,
    catalogue: Catalogue,
    validity_hours: float,
    now: datetime,
    database_url: str = "",
) -> tuple[AnchorSettings, FederationDocument]:
    """Create directory/anchor.toml, the anchor key and version 1 of the document."""
    config = directory / ANCHOR_CONFIG
    if config.exists():
        raise FederationChangeError(f"{config} already exists; this directory holds a trust anchor")
    key = KeyPair.generate()
    directory.mkdir(parents=True, exist_ok=True)
    key.save(directory / "anchor.key")
    anchor: dict[str, str | int | float] = {
        "federation": federation,
        "base_url": base_url,
        "host": host,
        "port": port,
        "data_dir": ".",
        "key_file": "anchor.key",
        "validity_hours": validity_hours,
    }
    tables: dict[str, dict[str, str | int | float]] = {"anchor": anchor}
    if database_url:
        tables["database"] = {"url": database_url}
    write_new(
        config, dumps(tables, header=f"Trust anchor of {federation}. See docs/configuration.md.")
    )
    settings = load_anchor_settings(config)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with make_sessions(engine).begin() as session:
            document = issue_first(
                session,
                key,
                federation=federation,
                catalogue=catalogue,
                now=now,
                validity=timedelta(hours=validity_hours),
            )
    finally:
        engine.dispose()
    return settings, document
