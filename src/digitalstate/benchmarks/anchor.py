"""The trust anchor of a benchmark's federation: made in a directory on a free loopback port."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from digitalstate.benchmarks.ports import free_port
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.setup import init_anchor
from digitalstate.keys import KeyPair
from digitalstate.settings import AnchorSettings

HOST = "127.0.0.1"


def bench_anchor(
    directory: Path, now: datetime, validity_hours: float = 2
) -> tuple[AnchorSettings, KeyPair]:
    """A trust anchor of the federation "bench" in directory (the demo's catalogue), and its
    key, to add the run's nodes with."""
    port = free_port()
    settings, _ = init_anchor(
        directory,
        federation="bench",
        base_url=f"http://{HOST}:{port}",
        host=HOST,
        port=port,
        catalogue=load_catalogue(None),
        validity_hours=validity_hours,
        now=now,
    )
    return settings, KeyPair.load(settings.key_path)
