"""The demo federation: a trust anchor and ten nodes, each its own process and SQLite file."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from digitalstate.demo.experiments import seed_experiment_journeys
from digitalstate.demo.journeys import DEMO_JOURNEYS, journey_services, seed_node_journeys
from digitalstate.demo.prisons import seed_prisons
from digitalstate.demo.seed import (
    DEMO_PASSWORD,
    SeedTargets,
    seed_people,
    tune_for_bulk_load,
)
from digitalstate.demo.spending import seed_spending
from digitalstate.demo.stories import seed_stories
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import Role
from digitalstate.federation.service import add_member, latest_document
from digitalstate.federation.setup import ANCHOR_CONFIG, init_anchor
from digitalstate.identity.pseudonyms import load_or_create_secret
from digitalstate.identity.service import hash_password
from digitalstate.keys import KeyPair
from digitalstate.node.setup import NODE_CONFIG, init_node
from digitalstate.performance.service import refresh_months
from digitalstate.services.definitions import load_service_definition, read_definitions
from digitalstate.services.domain import ServiceEntry
from digitalstate.settings import SettingsError, load_anchor_settings, load_node_settings
from digitalstate.staff.domain import ROLES
from digitalstate.staff.service import add_staff, find_staff, member
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade
from digitalstate.tomlwrite import Value, dumps, write_new


@dataclass(frozen=True)
class DemoNode:
    """One node of the demo federation."""

    id: str
    name: str
    roles: tuple[Role, ...]
    service: str | None = None  # its service definition file, in demo/services/
    journey: str | None = None  # a service with pages it runs too (demo/services/)
    prisons: bool = False  # it keeps the prisons' register ([prisons]; demo/prisons.py)

    @property
    def service_files(self) -> list[str]:
        """Its service definition files, in the order its [services] files name them."""
        return [name for name in (self.service, self.journey) if name is not None]


DEMO_NODES: tuple[DemoNode, ...] = (
    DemoNode("charter", "Charter: your account and your consents", ("charter",)),
    DemoNode(
        "people-register",
        "People register",
        ("register", "service"),
        journey="change-your-address.toml",
    ),
    DemoNode(
        "swansea-motoring",
        "Swansea: motoring",
        ("register", "service"),
        "driving-licence-details.toml",
    ),
    DemoNode("newcastle-tax", "Newcastle: tax", ("register", "service"), "tax-details.toml"),
    DemoNode(
        "liverpool-pensions",
        "Liverpool: pensions",
        ("register", "service"),
        "state-pension-details.toml",
        "apply-for-state-pension.toml",
    ),
    DemoNode(
        "birmingham-social-care",
        "Birmingham: social care",
        ("register", "service"),
        "care-assessment-details.toml",
        "ask-for-a-care-assessment.toml",
    ),
    DemoNode(
        "manchester-planning",
        "Manchester: planning",
        ("register", "service"),
        "planning-application-details.toml",
    ),
    DemoNode(
        "electoral-registration",
        "Electoral registration office",
        ("register", "service"),
        "electoral-registration-details.toml",
        "register-to-vote.toml",
    ),
    DemoNode(
        "prisons",
        "Prisons",
        ("service",),
        "prison-visit-details.toml",
        "book-a-prison-visit.toml",
        prisons=True,
    ),
    DemoNode("opendata", "Open data portal", ("opendata",)),
)

DEMO_FEDERATION = "digitalstate demo federation"
DEMO_SERVICES = Path(__file__).parent / "services"  # package data: one file per service
LAYOUT_FILE = "demo.json"
HOST = "127.0.0.1"
MAIL_CATCHER = "mail-catcher"
# Messages the demo nodes send come from <node id>@DEMO_MAIL_DOMAIN (.test: reserved, RFC 2606).
DEMO_MAIL_DOMAIN = "digitalstate-demo.test"
DEFAULT_PEOPLE = 300
DEFAULT_SEED = 1
MAX_PEOPLE = 1_000_000
DEMO_STAFF_PASSWORD = "demo-staff-password"  # noqa: S105 - published on purpose, as people's
DEMO_STAFF_NAMES = {"caseworker": "Sam Caseworker", "manager": "Alex Manager"}
_DEMO_STAFF_IDS = uuid.UUID("5f0e7a6c-3b1d-4c2e-9a7f-0d9c8b6a5e41")  # uuid5 namespace


def demo_staff_email(member_id: str, role: str) -> str:
    """The email address of the demo's member of staff with role at member_id."""
    return f"{role}@{member_id}.example.org"


def demo_service_file(member_id: str) -> Path:
    """The packaged service definition file of the demo node member_id (demo/services/)."""
    node = next(n for n in DEMO_NODES if n.id == member_id)
    if node.service is None:
        raise KeyError(f"{member_id} runs no service in the demo")
    return DEMO_SERVICES / node.service


def demo_service(member_id: str) -> ServiceEntry:
    """The service the demo node member_id runs, as its node reads it."""
    return load_service_definition(demo_service_file(member_id), member_id)


def service_setting(member_id: str, roles: Sequence[str]) -> dict[str, dict[str, Value]]:
    """[services] naming the demo's packaged files for member_id, if it has any, and its
    [prisons] if it keeps the prisons' register (for tests)."""
    node = next((n for n in DEMO_NODES if n.id == member_id), None)
    if "service" not in roles or node is None or not node.service_files:
        return {}
    files = [str(DEMO_SERVICES / name) for name in node.service_files]
    settings: dict[str, dict[str, Value]] = {"services": {"files": files}}
    return settings | ({"prisons": {}} if node.prisons else {})


SeedProgress = Callable[[int, int], None]
"""Told (people seeded so far, people wanted) as seeding goes."""


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

    @property
    def catcher_dir(self) -> Path:
        """The mail catcher's directory: the messages it caught (a Maildir)."""
        return self.data_dir / MAIL_CATCHER

    @property
    def catcher_port(self) -> int:
        """The port of the mail catcher's page, after the nodes'."""
        return self.base_port + 1 + len(DEMO_NODES)

    @property
    def catcher_smtp_port(self) -> int:
        """The port the mail catcher takes SMTP on, after its page's."""
        return self.catcher_port + 1

    @property
    def catcher_url(self) -> str:
        """The mail catcher's base URL."""
        return f"http://{HOST}:{self.catcher_port}"

    def ports(self) -> list[int]:
        """Every port the demo listens on."""
        nodes = [self.port(n) for n in DEMO_NODES]
        return [self.base_port, *nodes, self.catcher_port, self.catcher_smtp_port]


def prepare(
    layout: DemoLayout,
    now: datetime,
    *,
    people: int = DEFAULT_PEOPLE,
    seed: int = DEFAULT_SEED,
    progress: SeedProgress | None = None,
    journeys: int = DEMO_JOURNEYS,
) -> None:
    """Create whatever the demo's data directory lacks: anchor, nodes, memberships, staff at
    the service nodes, people, and a year of synthetic journeys (`journeys` at each node with
    pages: DEMO_JOURNEYS, about 300,000 events in all, unless fewer are asked for).

    Idempotent: a second run reuses every key, database and membership already made, and
    seeds only the people not seeded yet (see seed_demo_people).
    """
    recorded = _read_marker(layout, seed)
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
            services: dict[str, dict[str, Value]] = (
                {"services": {"files": node.service_files}} if node.service_files else {}
            )
            # The demo's pages are in English and Welsh (docs/i18n.md).
            services["web"] = {"languages": ["en", "cy"]}
            if node.prisons:
                services["prisons"] = {}
            if "opendata" in node.roles:
                # The portal harvests the other demo nodes every minute; what it missed while
                # they were starting with it (a harvest with a failure) it asks for again 5 s
                # later, then 10, 20 and 40 s (docs/opendata.md), so it shows soon after.
                services["opendata"] = {"harvest_seconds": 60, "retry_seconds": 5}
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
                extra=services,
            )
        _give_service(layout, node)
        _give_email(layout, node)
        _give_prisons(layout, node)
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
    recorded["base_port"] = layout.base_port
    _write_marker(layout.data_dir / LAYOUT_FILE, recorded)
    _copy_migrated_database(layout)
    staff_password = DemoStaffPassword()
    for node in DEMO_NODES:
        seed_demo_node(layout, node, now, seed, staff_password, journeys=journeys)
    seed_demo_people(layout, recorded, people=people, seed=seed, progress=progress)


def _give_service(layout: DemoLayout, node: DemoNode) -> None:
    """Copy node's service definitions into its folder, and name them in its node.toml.

    A folder made before services were declared as files gets both here (the section is added
    to the end of its node.toml), and one made before the node ran its service with pages gets
    that file added to its list; the operator's own edits to either are kept.
    """
    if not node.service_files:
        return
    new = []
    for name in node.service_files:
        copy = layout.node_dir(node) / name
        if not copy.exists():
            write_new(copy, (DEMO_SERVICES / name).read_text(encoding="utf-8"))
            new.append(name)
    config = layout.node_config(node)
    named = [path.name for path in load_node_settings(config).services.files]
    if not named:
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + dumps({"services": {"files": node.service_files}}))
    elif node.journey in new and named == [node.service]:
        # The list as an earlier demo wrote it: the same line, with the new file added.
        before = dumps({"services": {"files": [node.service or ""]}}).splitlines()[-1]
        after = dumps({"services": {"files": node.service_files}}).splitlines()[-1]
        config.write_text(config.read_text(encoding="utf-8").replace(before, after, 1))


class DemoStaffPassword:
    """DEMO_STAFF_PASSWORD's argon2 hash, made once and only if a member of staff is added."""

    def __init__(self) -> None:
        self._hash: str | None = None

    def __call__(self) -> str:
        if self._hash is None:
            self._hash = hash_password(DEMO_STAFF_PASSWORD)
        return self._hash


def seed_demo_node(
    layout: DemoLayout,
    node: DemoNode,
    now: datetime,
    seed: int,
    staff_password: Callable[[], str],
    *,
    journeys: int = DEMO_JOURNEYS,
) -> None:
    """What node's database lacks of the demo's data, in one pass (one engine, migrated
    first): a year of synthetic journeys' events (journeys of them); then staff at a service
    node, the prisons, the experiments' journeys, stories and a year of spending in one
    transaction; last, the services' figures by month computed from those events. The year of
    journeys comes first: it is written only where no event is recorded yet, and the
    experiments' journeys are events too (before, a node running an experiment never had its
    year of journeys)."""
    settings = load_node_settings(layout.node_config(node))
    paths = [layout.node_dir(node) / name for name in node.service_files]
    definitions = read_definitions(paths) if paths else []
    engine = make_engine(settings.database_url)
    tune_for_bulk_load(engine)
    try:
        upgrade(engine)
        seed_node_journeys(
            engine, journey_services(definitions), seed=seed, now=now, journeys=journeys
        )
        with make_sessions(engine).begin() as session:
            if "service" in node.roles:
                add_demo_staff(session, node, now, staff_password)
            if node.prisons:
                seed_prisons(session, now)
            for definition in definitions:
                if definition.experiments:
                    seed_experiment_journeys(session, definition, seed=seed, now=now)
            slugs = [d.slug for d in definitions if d.has_journey]
            if slugs:
                account = find_staff(session, demo_staff_email(node.id, "manager"))
                assert account is not None, "add_demo_staff adds a manager at every node"
                seed_stories(session, node.id, slugs, member(account), now)
            seed_spending(session, node.id, now)
        if any(d.has_journey for d in definitions):
            # The figures of the year just seeded, as the node would have kept them: a node
            # computes them in the background once started, and until then its dashboards and
            # its performance dataset would say "no data" (and the portal, harvesting at once,
            # would carry that until its next harvest).
            refresh_months(engine, now)
    finally:
        engine.dispose()


def add_demo_staff(
    session: Session, node: DemoNode, now: datetime, staff_password: Callable[[], str]
) -> None:
    """A caseworker and a manager at a service node, once (demo_staff_email, the password
    DEMO_STAFF_PASSWORD); their ids come from the node and role, so every demo has the same."""
    for role in ROLES:
        email = demo_staff_email(node.id, role)
        if find_staff(session, email) is not None:
            continue
        add_staff(
            session,
            email=email,
            display_name=DEMO_STAFF_NAMES[role],
            role=role,
            password_hash=staff_password(),
            now=now,
            account_id=str(uuid.uuid5(_DEMO_STAFF_IDS, f"{node.id}/{role}")),
        )


def _copy_migrated_database(layout: DemoLayout) -> None:
    """Give each node whose SQLite file does not exist yet a copy of one database migrated
    here once (VACUUM INTO), rather than running every migration at each of them."""
    missing = []
    for node in DEMO_NODES:
        url = make_url(load_node_settings(layout.node_config(node)).database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = Path(url.database)
            if not path.exists():
                missing.append(path)
    if len(missing) < 2:
        return  # one database is migrated as fast where it is
    template = layout.data_dir / "migrated.sqlite3.partial"
    template.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{template}")
    try:
        upgrade(engine)
        for path in missing:
            partial = path.with_name(path.name + ".partial")
            partial.unlink(missing_ok=True)
            with engine.connect() as connection:
                connection.exec_driver_sql("VACUUM INTO ?", (str(partial),))
            partial.replace(path)  # whole or not at all
    finally:
        engine.dispose()
        for leftover in (template, *template.parent.glob(template.name + "-*")):
            leftover.unlink(missing_ok=True)


def _give_prisons(layout: DemoLayout, node: DemoNode) -> None:
    """Give the node that keeps the prisons' register its [prisons], unless its node.toml has
    it already (a folder made before the demo booked prison visits gets it at the end)."""
    config = layout.node_config(node)
    if node.prisons and load_node_settings(config).prisons is None:
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + dumps({"prisons": {}}))


def email_setting(layout: DemoLayout, node: DemoNode) -> dict[str, Value]:
    """[email] of a demo node: the demo's mail catcher, on loopback, without TLS."""
    return {
        "smtp_host": HOST,
        "smtp_port": layout.catcher_smtp_port,
        "from_address": f"{node.id}@{DEMO_MAIL_DOMAIN}",
        "starttls": False,
    }


def _give_email(layout: DemoLayout, node: DemoNode) -> None:
    """Point node's email at the demo's mail catcher, unless its node.toml has [email] already.

    A folder made before the demo sent email gets the table at the end of its node.toml.
    """
    config = layout.node_config(node)
    if load_node_settings(config).email is None:
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n" + dumps({"email": email_setting(layout, node)}))


def seeded_people(layout: DemoLayout) -> int:
    """How many synthetic people the demo's data directory holds (from demo.json)."""
    marker = layout.data_dir / LAYOUT_FILE
    if not marker.exists():
        return 0
    return int(json.loads(marker.read_text()).get("people", 0))


def _read_marker(layout: DemoLayout, seed: int) -> dict[str, Any]:
    """What demo.json records; refuse another base port, or another seed over seeded people."""
    marker = layout.data_dir / LAYOUT_FILE
    if not marker.exists():
        return {}
    recorded: dict[str, Any] = json.loads(marker.read_text())
    if recorded.get("base_port") != layout.base_port:
        raise SettingsError(
            f"{marker}: this data directory was set up with --base-port "
            f"{recorded.get('base_port')}; use that, or another --data-dir for port "
            f"{layout.base_port}"
        )
    if recorded.get("people", 0) and recorded.get("seed") != seed:
        raise SettingsError(
            f"{marker}: this data directory holds people made with --seed "
            f"{recorded.get('seed')}; use that, or another --data-dir for --seed {seed}"
        )
    return recorded


def _write_marker(marker: Path, recorded: dict[str, Any]) -> None:
    # Written aside and renamed: an interrupted seeding never leaves a half-written file.
    partial = marker.with_suffix(".json.partial")
    partial.write_text(json.dumps(recorded, sort_keys=True) + "\n")
    partial.replace(marker)


def seed_demo_people(
    layout: DemoLayout,
    recorded: dict[str, Any],
    *,
    people: int,
    seed: int,
    progress: SeedProgress | None = None,
) -> None:
    """Seed people up to number people into the charter and every register, once.

    demo.json keeps the seed and how many people are seeded, chunk by chunk: a rerun with as
    many people does nothing; a larger number adds the people missing; an interrupted run
    carries on where it stopped.
    """
    have = int(recorded.get("people", 0))
    if people <= have:
        return
    marker = layout.data_dir / LAYOUT_FILE
    catalogue = load_catalogue(None)
    charter = next(n for n in DEMO_NODES if "charter" in n.roles)
    engines = _seeding_engines(layout, {f.holder for f in catalogue.fields} | {charter.id})
    try:
        recorded["seed"] = seed
        _write_marker(marker, recorded)

        def on_chunk(done: int) -> None:
            recorded["people"] = done
            _write_marker(marker, recorded)
            if progress is not None:
                progress(done, people)

        if progress is not None:
            progress(have, people)
        seed_people(
            SeedTargets(
                charter=engines[charter.id],
                registers={k: e for k, e in engines.items() if k != charter.id},
            ),
            fields=catalogue.fields,
            secret=load_or_create_secret(load_node_settings(layout.node_config(charter)).data_dir),
            seed=seed,
            start=have,
            stop=people,
            password_hash=hash_password(DEMO_PASSWORD),
            on_chunk=on_chunk,
        )
    finally:
        for engine in engines.values():
            engine.dispose()


def _seeding_engines(layout: DemoLayout, member_ids: set[str]) -> dict[str, Engine]:
    """An engine on each of these demo nodes' databases, migrated and tuned for bulk writes."""
    engines: dict[str, Engine] = {}
    try:
        for node in DEMO_NODES:
            if node.id not in member_ids:
                continue
            engine = make_engine(load_node_settings(layout.node_config(node)).database_url)
            engines[node.id] = engine
            tune_for_bulk_load(engine)
            upgrade(engine)
    except BaseException:
        for engine in engines.values():
            engine.dispose()
        raise
    return engines
