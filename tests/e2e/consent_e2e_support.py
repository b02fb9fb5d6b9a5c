"""A consent federation of real processes, and a person's browser, for the issue 3 e2e tests.

The federation is set up through the CLI like tests/e2e/test_exchange_e2e.py: a trust anchor,
the charter, the People register and liverpool-pensions, each its own process and database
(SQLite files, or one PostgreSQL schema each). newcastle-tax is a member that is never run:
its key signs calls from "another requester". Synthetic people are seeded into the charter
and the registers before the nodes start, exactly as `digitalstate demo` seeds them.

The Browser acts as a person's browser would: one cookie jar for every node (cookies on
127.0.0.1 are shared across ports, which is why each node names its own), real redirects,
and forms posted with the hidden fields the page gave (the CSRF token among them). It keeps
every response it saw, for the test that no node but the charter ever shows the internal id.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import psycopg
import pytest
from e2e_support import HOST, Processes, flags, free_port, http_get, run_cli, run_cli_together
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.exchange.client import ExchangeClient, ExchangeResponse
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, verify_document
from digitalstate.identity.pseudonyms import load_or_create_secret
from digitalstate.identity.service import hash_password
from digitalstate.keys import KeyPair
from digitalstate.registers.seed import DEMO_PASSWORD, SeedTargets, seed_people
from digitalstate.registers.synthetic import SyntheticPerson, make_person
from digitalstate.services.models import ServiceConsent, ServiceCopy
from digitalstate.settings import load_node_settings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade
from digitalstate.tellusonce.models import OutboxMessage

FEDERATION_PATH = "/.well-known/digitalstate/federation"
READ_PATH = "/exchange/v1/records/read"
NOTICES_PATH = "/exchange/v1/notices"
PROBLEM = "urn:digitalstate:problem:"
CHARTER, REGISTER, PENSIONS, OTHER = "charter", "people-register", "liverpool-pensions", "newcastle-tax"
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
        reason = f"PostgreSQL at {url} is unreachable ({first}); set {POSTGRES_ENV}"
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

    def serve(self, member: str) -> None:
        """Start one member's process (again) and wait until it is ready."""
        self.procs.serve_node(member, self.config(member), self.urls[member], **self.env.get(member, {}))

    def child(self, member: str) -> Any:
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
    anchor_key = KeyPair.load(anchor_dir / "anchor.key").public.b64
    ports = {member: free_port() for member in MEMBERS}
    run_cli_together(
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
            *(["--database-url", database_urls[member]] if database_urls else []),
        ]
        for member, (name, roles, _) in MEMBERS.items()
    )
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
    for member in RUN:
        procs.start(
            member,
            ["node", "serve", "--config", str(federation.config(member))],
            federation.urls[member],
            _node_env(federation.env.get(member, {})),
        )
    for member in RUN:
        procs.wait_ready(federation.child(member))
    return federation


def _node_env(extra: Mapping[str, str]) -> dict[str, str]:
    from e2e_support import hermetic_env

    return hermetic_env(**extra)


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


# --- a person's browser -------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A response the browser received: where from, its status, headers and body."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Form:
    """A form on a page: where it posts and the values it would send as it stands."""

    action: str
    fields: dict[str, str]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._open = Form(found.get("action", ""), {})
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and found.get("name"):
            kind = found.get("type", "text").lower()
            if kind in ("radio", "checkbox") and "checked" not in found:
                return
            self._open.fields[found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


@dataclass(frozen=True)
class Page:
    """A page the browser ended on, after following every redirect."""

    url: str
    status: int
    html: str
    history: list[str]

    @property
    def text(self) -> str:
        """The visible text of the page's main part, tags removed, spaces collapsed."""
        found = re.search(r"<main.*?</main>", self.html, re.S)
        inner = re.sub(r"<[^>]+>", " ", found.group(0) if found else self.html)
        return re.sub(r"\s+", " ", html.unescape(inner)).strip()

    def form(self, action_part: str = "") -> Form:
        """The first form whose action contains action_part."""
        parser = _FormParser()
        parser.feed(self.html)
        for form in parser.forms:
            if action_part in form.action:
                return form
        raise AssertionError(f"no form posting to *{action_part}* on {self.url}: {self.text}")

    def went_through(self, url_part: str) -> bool:
        """True when a redirect on the way here went through url_part."""
        return any(url_part in url for url in self.history)


class Browser:
    """A person's browser: one cookie jar, real redirects, forms with their hidden fields."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.http = httpx.Client(
            follow_redirects=True, timeout=20.0, event_hooks={"response": [self._keep]}
        )

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.seen.append(
            Seen(
                str(response.request.url),
                response.status_code,
                response.headers.multi_items(),
                response.content,
            )
        )

    def _page(self, response: httpx.Response) -> Page:
        return Page(
            str(response.url),
            response.status_code,
            response.text,
            [str(r.url) for r in response.history],
        )

    def get(self, url: str) -> Page:
        """Open url."""
        return self._page(self.http.get(url))

    def post(self, url: str, data: Mapping[str, str]) -> Page:
        """Post a form's values to url."""
        return self._page(self.http.post(url, data=dict(data)))

    def submit(self, page: Page, action_part: str = "", **values: str) -> Page:
        """Fill in and send a form of page, as a person pressing its button."""
        form = page.form(action_part)
        return self.post(urljoin(page.url, form.action), {**form.fields, **values})

    def close(self) -> None:
        """Close the connections."""
        self.http.close()


# --- the person's journey -------------------------------------------------------------------


def sign_in_at_pensions(browser: Browser, federation: ConsentFederation, who: SyntheticPerson) -> Page:
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


def change_address(
    browser: Browser, federation: ConsentFederation, line_1: str, postcode: str = "LS1 4AP"
) -> tuple[Page, Page]:
    """At the People register, change the address: the question page, and the page after."""
    question = browser.get(federation.urls[REGISTER] + "/my/details/address")
    assert question.status == 200 and "What is your address?" in question.text, question.text
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
    return question, changed


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


def undelivered(federation: ConsentFederation) -> list[OutboxMessage]:
    """The register's outbox rows not yet delivered."""
    with federation.sessions(REGISTER).begin() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.delivered_at.is_(None))
                .order_by(OutboxMessage.id)
            )
        )


def problem_of(response: ExchangeResponse, status: int, slug: str) -> dict[str, Any]:
    """The RFC 9457 problem of a verified answer, checked to be of this status and type."""
    assert response.status == status, response.body
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEM + slug, problem
    return problem


def wait_until(probe: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll probe until it returns something truthy; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
