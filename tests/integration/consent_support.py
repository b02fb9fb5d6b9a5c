"""Shared parts of the consent tests: a small federation, databases and servers on loopback.

The federation has a charter and a People register that run as real apps, and test-only
members (a pensions service, the electoral registration office) whose keys the tests hold,
so a test can sign calls as them. Members that run no app point at the discard port, so a
call to them fails at once.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.exchange.client import ExchangeClient, ExchangeResponse
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, Member, MemberKey, sign_document
from digitalstate.identity.service import create_person, hash_password
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.node.setup import init_node
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.web.app import create_node_app

ANCHOR = KeyPair.from_seed(bytes(range(100, 132)))
PENSIONS = KeyPair.from_seed(bytes(range(132, 164)))
ELECTORAL = KeyPair.from_seed(bytes(range(164, 196)))
NOWHERE = "http://127.0.0.1:9"  # the discard port: connections are refused at once
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def member(
    member_id: str, name: str, roles: tuple[Any, ...], key: KeyPair, base_url: str = NOWHERE
) -> Member:
    """A member with one key, valid since yesterday."""
    since = datetime.now(UTC) - timedelta(days=1)
    return Member(
        id=member_id,
        name=name,
        roles=roles,
        base_url=base_url,
        keys=(MemberKey(public_key=key.public.b64, not_before=since),),
    )


def peer_members() -> tuple[Member, ...]:
    """The members whose keys the tests hold."""
    return (
        member("liverpool-pensions", "Liverpool: pensions", ("register", "service"), PENSIONS),
        member(
            "electoral-registration",
            "Electoral registration office",
            ("register", "service"),
            ELECTORAL,
        ),
    )


def federation_document(members: tuple[Member, ...]) -> FederationDocument:
    """A fresh document of members with the demo catalogue."""
    now = datetime.now(UTC).replace(microsecond=0)
    catalogue = load_catalogue()
    return FederationDocument(
        federation="consent test federation",
        version=1,
        issued_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(hours=1),
        members=members,
        purposes=catalogue.purposes,
        statutory_bases=catalogue.statutory_bases,
        fields=catalogue.fields,
    )


def another_database(database_url: str, directory: Path) -> Iterator[str]:
    """A second empty database next to database_url: a SQLite file, or a PostgreSQL schema."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{directory / 'other.db'}"
        return
    url = make_url(database_url)
    base = url.difference_update_query(["options"]).render_as_string(hide_password=False)
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def bound_socket(port: int = 0) -> socket.socket:
    """A socket bound to a loopback port (a free one by default), for uvicorn to listen on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class LoopbackServer:
    """An app served by uvicorn on a loopback socket, in a thread, for the life of a test."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", loop="asyncio", http="h11", ws="none"
        )
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


class InProcessClient:
    """A synchronous client of an ASGI app that runs the app's lifespan on its own loop."""

    def __init__(self, app: FastAPI, base_url: str) -> None:
        self.app = app
        self.loop = asyncio.Runner()
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url=base_url)
        self.lifespan = app.router.lifespan_context(app)

    def __enter__(self) -> InProcessClient:
        self.loop.run(self.lifespan.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.loop.run(self.client.aclose())
            self.loop.run(self.lifespan.__aexit__(None, None, None))
        finally:
            self.loop.close()

    def run(self, coroutine: Any) -> Any:
        """Run a coroutine on the app's loop (for the node's own async code)."""
        return self.loop.run(coroutine)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request to the app."""
        return self.loop.run(self.client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET path."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST path."""
        return self.request("POST", path, **kwargs)

    def csrf(self, path: str) -> str:
        """The CSRF token in the form of the page at path."""
        page = self.get(path)
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found, f"no CSRF token in {path}"
        return found.group(1)


# --- a charter and a People register, running ------------------------------------------------

CHARTER_URL = "http://charter.test"
PASSWORD = "correct horse battery staple"


async def anchor_is_down() -> Any:
    """The keeper's fetch when no trust anchor runs: nodes use their cached document."""
    raise OSError("Connection refused")


@dataclass
class Federation:
    """A running charter (in-process) and People register (on loopback), and their document."""

    charter: NodeRuntime
    charter_settings: NodeSettings
    holder_settings: NodeSettings
    document: FederationDocument
    browser: InProcessClient
    holder_socket: socket.socket
    holder_sessions: sessionmaker[Session]
    holder_server: LoopbackServer | None = None

    @property
    def charter_key(self) -> KeyPair:
        """The charter's signing key."""
        return KeyPair.load(self.charter_settings.key_path)

    def start_holder(self) -> None:
        """Serve the People register (again) on its port."""
        if self.holder_socket.fileno() == -1:
            self.holder_socket = bound_socket(self.holder_socket_port)
        runtime = NodeRuntime.build(self.holder_settings)
        runtime.keeper.fetch = anchor_is_down
        self.holder_server = LoopbackServer(
            create_node_app(self.holder_settings, runtime), self.holder_socket
        ).__enter__()

    def stop_holder(self) -> None:
        """Stop the People register; calls to it are refused until it starts again."""
        assert self.holder_server is not None
        self.holder_server.__exit__(None, None, None)
        self.holder_server = None

    @property
    def holder_socket_port(self) -> int:
        """The People register's port."""
        return int(self.holder_settings.node.base_url.rsplit(":", 1)[1])

    def add_person(self, email: str, name: str) -> str:
        """A person with an account at the charter (password PASSWORD)."""
        with self.charter.sessions.begin() as session:
            return create_person(
                session,
                email=email,
                display_name=name,
                password_hash=hash_password(PASSWORD),
                now=datetime.now(UTC),
            ).id

    def sign_in(self, email: str) -> None:
        """Sign the browser in to the charter as email (signing out whoever was)."""
        self.browser.client.cookies.clear()
        token = self.browser.csrf("/sign-in?next=/my")
        response = self.browser.post(
            "/sign-in",
            data={"email": email, "password": PASSWORD, "next": "/my", "csrf_token": token},
        )
        assert response.status_code == 303, response.text

    def signed(
        self, member_id: str, key: KeyPair, method: str, path: str, body: Any = None, **kw: str
    ) -> httpx.Response:
        """Call the charter's exchange route path, signed as member_id."""
        raw = b"" if body is None else json.dumps(body).encode()
        client = ExchangeClient(member_id, key, lambda: self.document)
        headers = {"content-type": "application/json"} if raw else {}
        extra = {GROUND_HEADERS[name]: value for name, value in kw.items()}
        signed = client.sign_request(method, CHARTER_URL + path, raw, {**headers, **extra})
        return self.browser.request(method, path, content=raw, headers=signed)

    def call_holder(
        self, member_id: str, key: KeyPair, method: str, path: str, body: Any = None, **kw: str
    ) -> ExchangeResponse:
        """Call the People register over loopback, signed as member_id."""

        async def call() -> ExchangeResponse:
            async with ExchangeClient(member_id, key, lambda: self.document) as client:
                return await client.call("people-register", method, path, json_body=body, **kw)

        return asyncio.run(call())


GROUND_HEADERS = {
    "purpose": "digitalstate-purpose",
    "consent": "digitalstate-consent",
    "basis": "digitalstate-basis",
}


def node_settings(
    directory: Path, member_id: str, name: str, role: str, base_url: str, database_url: str
) -> NodeSettings:
    """A node's settings and key in directory, with no trust anchor to reach."""
    port = int(base_url.rsplit(":", 1)[1]) if base_url.count(":") == 2 else 8101
    return init_node(
        directory,
        member_id=member_id,
        name=name,
        roles=[role],
        host="127.0.0.1",
        port=port,
        base_url=base_url,
        anchor_url=NOWHERE,
        anchor_public_key=ANCHOR.public.b64,
        database_url=database_url,
    )


def member_of(settings: NodeSettings) -> Member:
    """The federation entry of a node set up by node_settings."""
    return member(
        settings.node.id,
        settings.node.name,
        tuple(settings.node.roles),
        KeyPair.load(settings.key_path),
        settings.node.base_url,
    )


def start_federation(tmp_path: Path, charter_db: str, holder_db: str) -> Iterator[Federation]:
    """A charter and a People register, running for one test; both stopped afterwards."""
    sock = bound_socket()
    holder_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    charter_settings = node_settings(
        tmp_path / "charter", "charter", "Charter: your account", "charter", CHARTER_URL, charter_db
    )
    holder_settings = node_settings(
        tmp_path / "people", "people-register", "People register", "register", holder_url, holder_db
    )
    document = federation_document(
        (member_of(charter_settings), member_of(holder_settings), *peer_members())
    )
    for settings in (charter_settings, holder_settings):
        settings.federation_cache_path.write_text(json.dumps(sign_document(document, ANCHOR)))
    charter = NodeRuntime.build(charter_settings)
    charter.keeper.fetch = anchor_is_down
    browser = InProcessClient(create_node_app(charter_settings, charter), CHARTER_URL)
    holder_engine = make_engine(holder_db)
    federation = Federation(
        charter,
        charter_settings,
        holder_settings,
        document,
        browser,
        sock,
        make_sessions(holder_engine),
    )
    federation.start_holder()
    try:
        with browser:
            yield federation
    finally:
        if federation.holder_server is not None:
            federation.stop_holder()
        federation.holder_socket.close()
        holder_engine.dispose()
