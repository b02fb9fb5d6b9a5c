"""A consent federation of real processes, and a person's journey through it, for issue 3.

The federation is set up through the CLI like tests/e2e/test_exchange_e2e.py: a trust anchor,
the charter, the People register and liverpool-pensions, each its own process and database
(SQLite files, or one PostgreSQL schema each). newcastle-tax is a member that is never run:
its key signs calls from "another requester". Synthetic people are seeded into the charter
and the registers before the nodes start, exactly as `digitalstate demo` seeds them.

The journey's steps drive browser_support.Browser as a person would: through the real
redirects, forms and CSRF tokens of the pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

import psycopg
import pytest
from browser_support import Browser, Page
from e2e_support import (
    HOST,
    Processes,
    flags,
    free_port,
    hermetic_env,
    http_get,
    processes,
    run_cli,
    run_cli_each,
    wait_for,
)
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.demo.federation import demo_service_file
from digitalstate.demo.seed import DEMO_PASSWORD, SeedTargets, seed_people
from digitalstate.demo.supervisor import Child
from digitalstate.demo.synthetic import SyntheticPerson, make_person
from digitalstate.exchange.client import ExchangeClient, ExchangeResponse
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, verify_document
from digitalstate.identity.pseudonyms import load_or_create_secret
from digitalstate.identity.service import hash_password
from digitalstate.keys import KeyPair
from digitalstate.services.models import ServiceConsent, ServiceCopy
from digitalstate.settings import load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade

FEDERATION_PATH = "/.well-known/digitalstate/federation"
READ_PATH = "/exchange/v1/records/read"
NOTICES_PATH = "/exchange/v1/notices"
PROBLEM = "urn:digitalstate:problem:"
CHARTER, REGISTER, PENSIONS, OTHER = (
    "charter",
    "people-register",
    "liverpool-pensions",
    "newcastle-tax",
)
# Member id -> (name, roles, runs as a process).
MEMBERS: dict[str, tuple[str, str, bool]] = {
    CHARTER: ("Charter: your account and your consents", "charter", True),
    REGISTER: ("People register", "register", True),
    PENSIONS: ("Liverpool: pensions", "register,service", True),
    OTHER: ("Newcastle: tax", "register,service", False),
}
RUN = [member for member, (_, _, runs) in MEMBERS.items() if runs]
PENSIONS_FIELDS = ["people.address", "people.date_of_birth"]
PENSIONS_PURPOSE = "pension-administration"
SEED = 1
PEOPLE = 12
POSTGRES_ENV = "DIGITALSTATE_TEST_POSTGRES_URL"
WORKERS_ENV = "DIGITALSTATE_SERVER__WORKERS"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


# --- PostgreSQL: one schema per node --------------------------------------------------------


def postgres_base_url() -> str:
    """The PostgreSQL the suite runs against, as a libpq URL (like tests/conftest.py)."""
    url = os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES_URL
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def require_postgres() -> str:
    """The base URL; skip the test when PostgreSQL is unreachable, or fail under CI=true."""
    url = postgres_base_url()
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        shown = make_url(url).render_as_string(hide_password=True)
        reason = f"PostgreSQL at {shown} is unreachable ({first}); set {POSTGRES_ENV}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    return url


@contextlib.contextmanager
def postgres_schemas(members: list[str]) -> Iterator[dict[str, str]]:
    """A fresh schema for each member and its database URL; all dropped on the way out."""
    base = require_postgres()
    tag = secrets.token_hex(4)
    schemas = {member: f"e2e_{tag}_{member.replace('-', '_')}" for member in members}
    with psycopg.connect(base, autocommit=True) as admin:
        for schema in schemas.values():
            admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield {
            member: make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
            for member, schema in schemas.items()
        }
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute("SET lock_timeout = '10s'")
            for schema in schemas.values():
                admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


class Closable(Protocol):
    """A running federation: closed when its fixture ends."""

    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


@contextlib.contextmanager
def running_on(
    kind: str,
    root: Path,
    members: list[str],
    set_up: Callable[[Processes, Mapping[str, str] | None], C],
) -> Iterator[C]:
    """set_up(procs, database_urls) on kind of database: each member its own PostgreSQL schema
    (database_urls None on SQLite); its processes log under root/logs; closed on the way out."""
    with contextlib.ExitStack() as stack:
        urls = stack.enter_context(postgres_schemas(members)) if kind == "postgres" else None
        procs = stack.enter_context(processes(root / "logs"))
        running = set_up(procs, urls)
        stack.callback(running.close)
        yield running


# --- the federation -----------------------------------------------------------------------


@dataclass
class ConsentFederation:
    """The anchor, charter, People register and pensions: running, seeded, and inspectable."""

    root: Path
    anchor_url: str
    urls: dict[str, str]
    procs: Processes
    backend: str
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    _engines: dict[str, Engine] = field(default_factory=dict)
    _document: FederationDocument | None = None

    def config(self, member: str) -> Path:
        """A member's node.toml."""
        return self.root / member / "node.toml"

    def key(self, member: str) -> KeyPair:
        """A member's signing key."""
        return KeyPair.load(self.root / member / "node.key")

    def document(self) -> FederationDocument:
        """The anchor's current document, verified against the anchor's pinned key."""
        if self._document is None:
            anchor_key = KeyPair.load(self.root / "anchor" / "anchor.key").public
            envelope = http_get(self.anchor_url + FEDERATION_PATH).json()
            self._document = verify_document(envelope, anchor_key, now=datetime.now(UTC))
        return self._document

    def engine(self, member: str) -> Engine:
        """An engine on a member's own database (made once)."""
        if member not in self._engines:
            url = load_node_settings(self.config(member)).database_url
            self._engines[member] = make_engine(url)
        return self._engines[member]

    def sessions(self, member: str) -> sessionmaker[Session]:
        """Sessions on a member's database."""
        return make_sessions(self.engine(member))

    def call(self, member: str, peer: str, path: str, body: Any, **ground: str) -> ExchangeResponse:
        """One signed POST as member to peer; the answer's signature is verified."""
        document = self.document()

        async def run() -> ExchangeResponse:
            async with ExchangeClient(member, self.key(member), lambda: document) as client:
                return await client.call(peer, "POST", path, json_body=body, **ground)

        return asyncio.run(run())

    def start(self, member: str) -> Child:
        """Start one member's process (again), with its own environment."""
        env = self.env.get(member, {})
        return self.procs.start(
            member,
            ["node", "serve", "--config", str(self.config(member))],
            self.urls[member],
            hermetic_env(**env),
            fork=int(env.get(WORKERS_ENV, "1")) == 1,
        )

    def serve(self, member: str) -> None:
        """Start one member's process (again) and wait until it is ready."""
        self.procs.wait_ready(self.start(member))

    def child(self, member: str) -> Child:
        """The newest running process of a member."""
        return next(c for c in reversed(self.procs.children) if c.name == member)

    def close(self) -> None:
        """Let go of the test's own database connections."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def person(number: int) -> SyntheticPerson:
    """Seeded person number n: their email, internal id and facts."""
    return make_person(SEED, number)


def set_up_federation(
    root: Path,
    procs: Processes,
    *,
    database_urls: Mapping[str, str] | None = None,
    env: Mapping[str, Mapping[str, str]] | None = None,
) -> ConsentFederation:
    """Make the anchor and the members through the CLI, seed people, and start every node."""
    anchor_port = free_port()
    anchor_url = f"http://{HOST}:{anchor_port}"
    anchor_dir = root / "anchor"
    run_cli("federation", "init", *flags(dir=anchor_dir, port=anchor_port))
    ports = {member: free_port() for member in MEMBERS}
    init_members(root, anchor_url, ports, database_urls or {})
    for member in MEMBERS:
        run_cli(
            "federation",
            "add-member",
            *flags(config=anchor_dir / "anchor.toml", node_config=root / member / "node.toml"),
        )
    federation = ConsentFederation(
        root,
        anchor_url,
        {member: f"http://{HOST}:{port}" for member, port in ports.items()},
        procs,
        "postgres" if database_urls else "sqlite",
        {member: dict(values) for member, values in (env or {}).items()},
    )
    seed(federation)
    procs.serve_anchor(anchor_dir / "anchor.toml", anchor_url)
    started = [federation.start(member) for member in RUN]  # together: they start in parallel
    for child in started:
        procs.wait_ready(child)
    return federation


def init_members(
    root: Path, anchor_url: str, ports: Mapping[str, int], database_urls: Mapping[str, str]
) -> None:
    """`digitalstate node init` for every member at once, with its database when one is given."""
    anchor_key = KeyPair.load(root / "anchor" / "anchor.key").public.b64
    run_cli_each(
        [
            "node",
            "init",
            *flags(
                id=member,
                name=name,
                roles=roles,
                anchor_key=anchor_key,
                anchor_url=anchor_url,
                dir=root / member,
                port=ports[member],
            ),
            *(["--database-url", database_urls[member]] if member in database_urls else []),
            *(["--service", str(demo_service_file(member))] if "service" in roles else []),
        ]
        for member, (name, roles, _) in MEMBERS.items()
    )


def seed(federation: ConsentFederation) -> None:
    """Seed PEOPLE people into the charter and the two registers, before any node starts."""
    for member in (CHARTER, REGISTER, PENSIONS):
        upgrade(federation.engine(member))
    charter_dir = load_node_settings(federation.config(CHARTER)).data_dir
    seed_people(
        SeedTargets(
            charter=federation.engine(CHARTER),
            registers={m: federation.engine(m) for m in (REGISTER, PENSIONS)},
        ),
        fields=load_catalogue(None).fields,
        secret=load_or_create_secret(charter_dir),
        seed=SEED,
        start=0,
        stop=PEOPLE,
        password_hash=hash_password(DEMO_PASSWORD),
    )
    federation.close()  # the nodes migrate and own their databases from here on


# --- the person's journey -------------------------------------------------------------------


def sign_in_at_pensions(
    browser: Browser, federation: ConsentFederation, who: SyntheticPerson
) -> Page:
    """Open the pensions details page, sign in at the charter, and come back to it."""
    charter = federation.urls[CHARTER]
    page = browser.get(federation.urls[PENSIONS] + "/service/details")
    assert page.url.startswith(charter + "/sign-in?next="), page.url
    assert page.went_through("/auth/sign-in") and page.went_through(charter + "/oidc/authorize")
    page = browser.submit(page, "/sign-in", email=who.email, password=DEMO_PASSWORD)
    assert page.status == 200, page.text
    assert page.url == federation.urls[PENSIONS] + "/service/details", page.url
    assert page.went_through("/auth/callback?code=")
    return page


def give_consent(browser: Browser, federation: ConsentFederation, ask: Page) -> tuple[str, Page]:
    """From the service's question page, agree at the charter's consent screen: consent id, page."""
    screen = browser.submit(ask, "/service/details")
    assert screen.url.startswith(federation.urls[CHARTER] + "/consent/"), screen.url
    assert "Liverpool: pensions" in screen.text and "People register" in screen.text
    details = browser.submit(screen, "/consent/", answer="yes")
    assert details.status == 200, details.text
    returned = next(url for url in details.history if "/service/consent-return?" in url)
    consent_id = parse_qs(urlsplit(returned).query)["consent_id"][0]
    return consent_id, details


def address_question(browser: Browser, federation: ConsentFederation) -> Page:
    """At the People register (signed in through the charter): the address question page."""
    question = browser.get(federation.urls[REGISTER] + "/my/details/address")
    assert question.status == 200 and "What is your address?" in question.text, question.text
    return question


def submit_address(browser: Browser, question: Page, line_1: str, postcode: str) -> Page:
    """Answer the address question; the page saying the address changed and who was told."""
    changed = browser.submit(
        question,
        "/my/details/address",
        **{
            "address-line-1": line_1,
            "address-line-2": "",
            "address-town": "Leeds",
            "address-postcode": postcode,
        },
    )
    assert changed.status == 200 and "/my/details/changes/" in changed.url, changed.text
    return changed


def change_address(
    browser: Browser, federation: ConsentFederation, line_1: str, postcode: str = "LS1 4AP"
) -> Page:
    """Change the address at the People register; the page after."""
    return submit_address(browser, address_question(browser, federation), line_1, postcode)


def withdraw(browser: Browser, federation: ConsentFederation, consent_id: str) -> Page:
    """At the charter, open the consent, press withdraw and confirm."""
    consent = browser.get(f"{federation.urls[CHARTER]}/my/consents/{consent_id}")
    assert consent.status == 200 and "Active" in consent.text, consent.text
    link = re.search(r'href="([^"]*/withdraw)"', consent.html)
    assert link is not None, consent.text
    confirm = browser.get(urljoin(consent.url, link.group(1)))
    done = browser.submit(confirm, "/withdraw")
    assert done.status == 200 and "Consent withdrawn" in done.text, done.text
    return done


# --- looking inside ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    """What pensions keeps under a consent: its status, the values read and their version."""

    status: str
    data: dict[str, Any] | None
    version: int | None


def pensions_copy(federation: ConsentFederation, consent_id: str) -> Copy | None:
    """Pensions' consent and copy, straight from its database."""
    with federation.sessions(PENSIONS).begin() as session:
        consent = session.get(ServiceConsent, consent_id)
        if consent is None:
            return None
        copy = session.get(ServiceCopy, consent_id)
        data = None if copy is None else json.loads(copy.data)
        return Copy(consent.status, data, None if copy is None else copy.version)


def postcode_held(federation: ConsentFederation, consent_id: str) -> str | None:
    """The postcode pensions holds for the person, or None."""
    copy = pensions_copy(federation, consent_id)
    if copy is None or copy.data is None:
        return None
    return str((copy.data.get("people.address") or {}).get("postcode"))


def problem_of(response: ExchangeResponse, status: int, slug: str) -> dict[str, Any]:
    """The RFC 9457 problem of a verified answer, checked to be of this status and type."""
    assert response.status == status, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEM + slug, problem
    return problem


def read_as_pensions(federation: ConsentFederation, consent_id: str) -> ExchangeResponse:
    """Pensions reads its consented fields from the register, with its own key."""
    return federation.call(
        PENSIONS,
        REGISTER,
        READ_PATH,
        {"fields": PENSIONS_FIELDS},
        purpose=PENSIONS_PURPOSE,
        consent=consent_id,
    )


def whole_journey(
    browser: Browser, federation: ConsentFederation, who: SyntheticPerson, postcode: str
) -> tuple[str, ExchangeResponse]:
    """Sign in, consent, change the address, withdraw: the consent id and the refused read."""
    consent_id, _ = give_consent(browser, federation, sign_in_at_pensions(browser, federation, who))
    change_address(browser, federation, "2 Journey Road", postcode)
    wait_for(
        lambda: postcode_held(federation, consent_id) == postcode,
        10,
        "pensions to read the new address",
        interval=0.02,
    )
    withdraw(browser, federation, consent_id)
    refused = read_as_pensions(federation, consent_id)
    problem_of(refused, 403, "consent-refused")
    return consent_id, refused
