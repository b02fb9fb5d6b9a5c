"""Shared parts of the identity tests: a charter (and a relying party) running in-process.

Nodes start from a federation document already in their cache files (the trust anchor is
down). Every app runs on one event loop, so that a relying party's call to the charter's
token endpoint can go straight to the charter app (its token poster is replaced: the one
outside call the relying party makes). Test-only members (newcastle-tax, a revoked member)
have keys the tests hold, so a test can act as their OAuth client.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import Depends, FastAPI, Request
from sqlalchemy import select

from digitalstate.app import create_node_app
from digitalstate.federation.domain import FederationDocument, Member
from digitalstate.identity.models import Delegation
from digitalstate.identity.relying_party import Subject, pkce_challenge, require_subject
from digitalstate.identity.service import create_person, hash_password
from digitalstate.identity.tokens import client_assertion
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.settings import NodeSettings
from digitalstate.web.session import csrf_token
from support import federation as shared
from support.clients import WORKER, Balancer
from support.federation import hold
from support.fixtures import BOB
from support.nodes import node_runtime, node_settings

ANCHOR = KeyPair.from_seed(bytes(range(200, 232)))
NEWCASTLE = KeyPair.from_seed(bytes(range(1, 33)))
REVOKED = KeyPair.from_seed(bytes(range(33, 65)))
STRANGER = KeyPair.from_seed(bytes(range(65, 97)))
PENSIONS = KeyPair.from_seed(bytes(range(97, 129)))

CHARTER_ID = "charter"
CHARTER_NAME = "Charter: your account and your consents"
CHARTER_URL = "https://charter.test"
RP_ID = "liverpool-pensions"
RP_NAME = "Liverpool: pensions"
RP_URL = "https://pensions.test"
NEWCASTLE_ID = "newcastle-tax"
NEWCASTLE_URL = "https://tax.newcastle.test"
REVOKED_ID = "revoked-node"
REVOKED_URL = "https://revoked.test"
TOKEN_ENDPOINT = CHARTER_URL + "/oidc/token"

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once
VERIFIER = "v" * 20 + "-erifier_of.the~test" + "x" * 10
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def member(
    member_id: str,
    name: str,
    roles: tuple[Any, ...],
    key: KeyPair,
    base_url: str,
    revoked_at: datetime | None = None,
) -> Member:
    """A member with one key, valid since yesterday."""
    return shared.member(
        member_id, key, name=name, roles=roles, base_url=base_url, revoked_at=revoked_at
    )


def federation_document(members: tuple[Member, ...]) -> FederationDocument:
    """A fresh document of members with the demo catalogue."""
    return shared.federation_document(members, federation="identity test federation")


def test_only_members() -> tuple[Member, ...]:
    """Members that run no app; the tests hold their keys."""
    return (
        member(NEWCASTLE_ID, "Newcastle: tax", ("register", "service"), NEWCASTLE, NEWCASTLE_URL),
        member(
            REVOKED_ID,
            "A revoked member",
            ("service",),
            REVOKED,
            REVOKED_URL,
            revoked_at=datetime.now(UTC) - timedelta(hours=1),
        ),
    )


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token in a page's form."""
    found = CSRF.search(page.text)
    assert found, f"no csrf_token in the page:\n{page.text[:2000]}"
    return found.group(1)


def query_of(url: str) -> dict[str, str]:
    """The query parameters of url, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class App:
    """One node's app in the harness: its settings, runtime and a browser-like client."""

    settings: NodeSettings
    runtime: NodeRuntime
    app: FastAPI
    client: httpx.AsyncClient
    loop: asyncio.Runner
    # Every worker of the node (runtime, app): more than one when the test asked for them.
    workers: list[tuple[NodeRuntime, FastAPI]] = field(default_factory=list)

    def request(
        self, method: str, path: str, *, worker: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Make a request to the app (to that worker of the node) and wait for its answer."""
        if worker is not None:
            kwargs["extensions"] = {WORKER: worker}
        return self.loop.run(self.client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET path (an absolute URL of this node is made relative)."""
        return self.request("GET", self.relative(path), **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to path."""
        return self.request("POST", self.relative(path), **kwargs)

    def relative(self, url: str) -> str:
        """url without this node's base URL."""
        base = self.settings.node.base_url
        assert not url.startswith("http") or url.startswith(base), f"{url} is not at {base}"
        return url[len(base) :] if url.startswith(base) else url


@dataclass
class Federation:
    """The apps of a test, on one event loop, and the document they hold."""

    document: FederationDocument
    apps: dict[str, App] = field(default_factory=dict)

    @property
    def charter(self) -> App:
        """The charter's app."""
        return self.apps[CHARTER_ID]

    @property
    def rp(self) -> App:
        """The relying party's app (liverpool-pensions)."""
        return self.apps[RP_ID]

    def add_person(
        self,
        email: str,
        name: str,
        *,
        level: str = "low",
        password_hash: str = PASSWORD_HASH,
    ) -> str:
        """A person with an account at the charter; their internal id."""
        with self.charter.runtime.sessions.begin() as session:
            person = create_person(
                session,
                email=email,
                display_name=name,
                password_hash=password_hash,
                now=datetime.now(UTC),
                level_of_assurance=level,
            )
            return person.id

    def sign_in_at_charter(self, email: str, password: str = PASSWORD, next_path: str = "") -> str:
        """Sign in on the charter's sign-in page; the address it sends the browser on to."""
        page = self.charter.get("/sign-in", params={"next": next_path} if next_path else None)
        answer = self.charter.post(
            "/sign-in",
            data={
                "csrf_token": csrf_of(page),
                "email": email,
                "password": password,
                "next": next_path,
            },
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]


def authorize_params(client_id: str = RP_ID, **overrides: str | None) -> dict[str, str]:
    """A valid authorization request from client_id, with overrides (None drops a parameter)."""
    base = {"liverpool-pensions": RP_URL, "newcastle-tax": NEWCASTLE_URL}.get(client_id, RP_URL)
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": base + "/auth/callback",
        "scope": "openid",
        "state": "state-of-the-test",
        "nonce": "nonce-of-the-test",
        "code_challenge": pkce_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize_path(params: Mapping[str, str]) -> str:
    """The charter's authorization address for params."""
    return "/oidc/authorize?" + urlencode(params)


def token_form(
    code: str,
    *,
    client_id: str = RP_ID,
    key: KeyPair | None = None,
    verifier: str | None = VERIFIER,
    assertion: str | None = None,
    audience: str = TOKEN_ENDPOINT,
) -> dict[str, str]:
    """A token request for code, authenticated with a client assertion signed by key."""
    signer = key or {RP_ID: PENSIONS, NEWCASTLE_ID: NEWCASTLE}.get(client_id, STRANGER)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": authorize_params(client_id)["redirect_uri"],
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion or client_assertion(client_id, signer, audience),
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return form


def _node_settings(
    directory: Path, member_id: str, name: str, roles: list[str], base_url: str, database_url: str
) -> NodeSettings:
    return node_settings(
        directory / member_id,
        member_id,
        database_url,
        name=name,
        roles=roles,
        base_url=base_url,
        anchor=ANCHOR,
    )


def add_test_routes(app: FastAPI) -> None:
    """Test-only pages: the Subject (behind require_subject) and the CSRF token, as JSON."""

    @app.get("/test/whoami")
    async def whoami(subject: Subject = Depends(require_subject)) -> dict[str, Any]:
        """Who is signed in here (tests only)."""
        return {"sub": subject.sub, "acr": subject.acr, "acting_for": subject.acting_for}

    @app.get("/test/csrf")
    async def token(request: Request) -> dict[str, str]:
        """This session's CSRF token (tests only)."""
        return {"token": csrf_token(request)}


def start_federation(
    tmp_path: Path, database_url: str, *, with_rp: bool = False, charter_workers: int = 1
) -> Iterator[Federation]:
    """The charter (on database_url) and, with_rp, liverpool-pensions (on SQLite).

    charter_workers: how many workers the charter runs, each its own runtime and app over the
    charter's database and files, behind one Balancer (fed.charter.workers; a request goes to
    the worker named by its worker argument, else to the next in turn). fed.charter.runtime
    and .app are the first worker's.
    """
    specs = [(CHARTER_ID, CHARTER_NAME, ["charter"], CHARTER_URL, database_url)]
    if with_rp:
        rp_db = f"sqlite:///{tmp_path / 'rp.db'}"
        specs.append((RP_ID, RP_NAME, ["register", "service"], RP_URL, rp_db))
    settings = {spec[0]: _node_settings(tmp_path, *spec) for spec in specs}
    if with_rp:  # the relying party signs with the key the tests hold
        settings[RP_ID].key_path.unlink()
        PENSIONS.save(settings[RP_ID].key_path)
    charter_key = KeyPair.load(settings[CHARTER_ID].key_path)
    members = (
        member(CHARTER_ID, CHARTER_NAME, ("charter",), charter_key, CHARTER_URL),
        member(RP_ID, RP_NAME, ("register", "service"), PENSIONS, RP_URL),
    )
    document = federation_document((*members, *test_only_members()))
    hold(document, *settings.values(), anchor=ANCHOR)
    loop = asyncio.Runner()
    federation = Federation(document)
    entered: list[Any] = []
    clients: list[httpx.AsyncClient] = []
    try:
        for member_id, one in settings.items():
            workers = []
            for _ in range(charter_workers if member_id == CHARTER_ID else 1):
                runtime = node_runtime(one)
                app = create_node_app(one, runtime)
                add_test_routes(app)
                lifespan = app.router.lifespan_context(app)
                loop.run(lifespan.__aenter__())
                entered.append(lifespan)
                workers.append((runtime, app))
            apps = [app for _, app in workers]
            transport = Balancer(apps) if len(apps) > 1 else httpx.ASGITransport(app=apps[0])
            client = httpx.AsyncClient(transport=transport, base_url=one.node.base_url)
            clients.append(client)
            runtime, app = workers[0]
            federation.apps[member_id] = App(one, runtime, app, client, loop, workers)
        if with_rp:
            federation.rp.app.state.oidc_token_poster = _poster_to(federation.charter)
        yield federation
    finally:
        for client in clients:
            loop.run(client.aclose())
        for lifespan in reversed(entered):
            loop.run(lifespan.__aexit__(None, None, None))
        loop.close()


def _poster_to(charter: App) -> Any:
    async def post(url: str, form: Mapping[str, str]) -> tuple[int, Any]:
        assert url == TOKEN_ENDPOINT, url
        answer = await charter.client.post("/oidc/token", data=dict(form))
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, None

    return post


# the OAuth client's side, as a relying party does -----------------------------------------


def code_for(
    fed: Federation, params: dict[str, str] | None = None, *, worker: int | None = None
) -> str:
    """Authorize as the signed-in person (at that worker); the code in the redirect."""
    params = params or authorize_params()
    answer = fed.charter.get(authorize_path(params), worker=worker)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(params["redirect_uri"] + "?")
    query = query_of(location)
    assert query["state"] == params["state"]
    return query["code"]


def assert_token_error(answer: httpx.Response, error: str) -> dict[str, str]:
    """The body of a token endpoint's error answer, checked to say error."""
    assert answer.status_code in (400, 401), answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, str] = answer.json()
    assert body["error"] == error, body
    assert "id_token" not in body
    return body


# driving the charter's pages, as a person does -------------------------------------------------


def sign_in_form(fed: Federation, **fields: str) -> httpx.Response:
    """Post the charter's sign-in form with fields (and its CSRF token)."""
    page = fed.charter.get("/sign-in")
    return fed.charter.post("/sign-in", data={"csrf_token": csrf_of(page), **fields})


def is_signed_in(fed: Federation) -> bool:
    """True when the browser is signed in at the charter."""
    return fed.charter.get("/my").status_code == 200


def add_helper(
    fed: Federation, files: dict[str, tuple[str, bytes]] | None = None, **fields: str | list[str]
) -> httpx.Response:
    page = fed.charter.get("/my/helpers")
    end = date.today() + timedelta(days=30)
    form: dict[str, str | list[str]] = {
        "csrf_token": csrf_of(page),
        "email": BOB,
        "scope": ["consent", "sign-in"],
        "expires-day": str(end.day),
        "expires-month": str(end.month),
        "expires-year": str(end.year),
    }
    form.update(fields)
    return fed.charter.post("/my/helpers", data=form, files=files)


def delegations(fed: Federation) -> list[Delegation]:
    with fed.charter.runtime.sessions.begin() as session:
        return list(session.scalars(select(Delegation)))
