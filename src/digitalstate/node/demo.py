"""The demo federation: a trust anchor and ten nodes, each its own process and SQLite file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import Role
from digitalstate.federation.service import add_member, latest_document
from digitalstate.federation.setup import ANCHOR_CONFIG, init_anchor
from digitalstate.keys import KeyPair
from digitalstate.node.setup import NODE_CONFIG, init_node
from digitalstate.settings import SettingsError, load_anchor_settings, load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions


@dataclass(frozen=True)
class DemoNode:
    """One node of the demo federation."""

    id: str
    name: str
    roles: tuple[Role, ...]


DEMO_NODES: tuple[DemoNode, ...] = (
    DemoNode("charter", "Charter: your account and your consents", ("charter",)),
    DemoNode("people-register", "People register", ("register",)),
    DemoNode("swansea-motoring", "Swansea: motoring", ("register", "service")),
    DemoNode("newcastle-tax", "Newcastle: tax", ("register", "service")),
    DemoNode("liverpool-pensions", "Liverpool: pensions", ("register", "service")),
    DemoNode("birmingham-social-care", "Birmingham: social care", ("register", "service")),
    DemoNode("manchester-planning", "Manchester: planning", ("register", "service")),
    DemoNode("electoral-registration", "Electoral registration office", ("register", "service")),
    DemoNode("prisons", "Prisons", ("service",)),
    DemoNode("opendata", "Open data portal", ("opendata",)),
)
DEMO_FEDERATION = "digitalstate demo federation"
LAYOUT_FILE = "demo.json"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class DemoLayout:
    """Where the demo's anchor and nodes live and listen."""

    data_dir: Path
    base_port: int

    @property
    def anchor_dir(self) -> Path:
        """The trust anchor's directory."""
        return self.data_dir / "trust-anchor"

    @property
    def anchor_config(self) -> Path:
        """The trust anchor's settings file."""
        return self.anchor_dir / ANCHOR_CONFIG

    @property
    def anchor_url(self) -> str:
        """The trust anchor's base URL."""
        return f"http://{HOST}:{self.base_port}"

    def node_dir(self, node: DemoNode) -> Path:
        """A node's directory."""
        return self.data_dir / node.id

    def node_config(self, node: DemoNode) -> Path:
        """A node's settings file."""
        return self.node_dir(node) / NODE_CONFIG

    def port(self, node: DemoNode) -> int:
        """A node's port: the base port plus its place in the list."""
        return self.base_port + 1 + DEMO_NODES.index(node)

    def url(self, node: DemoNode) -> str:
        """A node's base URL."""
        return f"http://{HOST}:{self.port(node)}"

    def ports(self) -> list[int]:
        """Every port the demo listens on."""
        return [self.base_port] + [self.port(n) for n in DEMO_NODES]


def prepare(layout: DemoLayout, now: datetime) -> None:
    """Create whatever the demo's data directory lacks: anchor, node keys, memberships.

    Idempotent: a second run reuses every key, database and membership already made.
    """
    marker = layout.data_dir / LAYOUT_FILE
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded.get("base_port") != layout.base_port:
            raise SettingsError(
                f"{marker}: this data directory was set up with --base-port "
                f"{recorded.get('base_port')}; use that, or another --data-dir for port "
                f"{layout.base_port}"
            )
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    if not layout.anchor_config.exists():
        init_anchor(
            layout.anchor_dir,
            federation=DEMO_FEDERATION,
            base_url=layout.anchor_url,
            host=HOST,
            port=layout.base_port,
            catalogue=load_catalogue(None),
            validity_hours=24,
            now=now,
        )
    anchor = load_anchor_settings(layout.anchor_config)
    anchor_key = KeyPair.load(anchor.key_path)
    for node in DEMO_NODES:
        if not layout.node_config(node).exists():
            init_node(
                layout.node_dir(node),
                member_id=node.id,
                name=node.name,
                roles=list(node.roles),
                host=HOST,
                port=layout.port(node),
                base_url=layout.url(node),
                anchor_url=layout.anchor_url,
                anchor_public_key=anchor_key.public.b64,
            )
    engine = make_engine(anchor.database_url)
    try:
        with make_sessions(engine).begin() as session:
            document = latest_document(session)
            members = {m.id for m in document.members} if document else set()
            for node in DEMO_NODES:
                if node.id in members:
                    continue
                settings = load_node_settings(layout.node_config(node))
                add_member(
                    session,
                    anchor_key,
                    member_id=node.id,
                    name=node.name,
                    roles=list(node.roles),
                    base_url=layout.url(node),
                    public_key=KeyPair.load(settings.key_path).public,
                    now=now,
                    validity=timedelta(hours=anchor.anchor.validity_hours),
                )
    finally:
        engine.dispose()
    marker.write_text(json.dumps({"base_port": layout.base_port}) + "\n")
