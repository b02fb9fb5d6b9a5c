"""Shared parts of the consent tests: a small federation, databases and servers on loopback.

The federation has a charter and a People register that run as real apps, and test-only
members (a pensions service, the electoral registration office) whose keys the tests hold,
so a test can sign calls as them. Members that run no app point at the discard port, so a
call to them fails at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.app import create_node_app
from digitalstate.exchange.client import ExchangeClient, ExchangeResponse
from digitalstate.federation.domain import FederationDocument, Member
from digitalstate.identity.service import create_person, hash_password, pseudonym_for
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.registers.models import RegisterRecord
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine, make_sessions
from support import federation as fed
from support import nodes
from support.clients import InProcessClient
from support.federation import ANCHOR, member_of
from support.nodes import node_runtime
from support.servers import LoopbackServer, bound_socket, port_of

PENSIONS = KeyPair.from_seed(bytes(range(132, 164)))
ELECTORAL = KeyPair.from_seed(bytes(range(164, 196)))
# The serving options these servers always ran with.
SERVING = {"loop": "asyncio", "http": "h11", "ws": "none"}


def peer_members() -> tuple[Member, ...]:
    """The members whose keys the tests hold."""
    return (
        fed.member(
            "liverpool-pensions",
            PENSIONS,
            name="Liverpool: pensions",
            roles=("register", "service"),
        ),
        fed.member(
            "electoral-registration",
            ELECTORAL,
            name="Electoral registration office",
            roles=("register", "service"),
        ),
    )


def federation_document(members: tuple[Member, ...]) -> FederationDocument:
    """A fresh document of members with the demo catalogue."""
    return fed.federation_document(members, federation="consent test federation")


# --- a charter and a People register, running ------------------------------------------------

CHARTER_URL = "http://charter.test"
PASSWORD = "correct horse battery staple"


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
        runtime = node_runtime(self.holder_settings)
        self.holder_server = LoopbackServer(
            create_node_app(self.holder_settings, runtime), self.holder_socket, **SERVING
        ).start()

    def stop_holder(self) -> None:
        """Stop the People register; calls to it are refused until it starts again."""
        assert self.holder_server is not None
        self.holder_server.stop()
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
        headers = {"content-type": "application/json"} if raw else {}
        extra = {GROUND_HEADERS[name]: value for name, value in kw.items()}
        return self.browser.signed(
            member_id, key, self.document, method, path, raw, {**headers, **extra}
        )

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
    return nodes.node_settings(
        directory, member_id, database_url, name=name, roles=[role], port=port, base_url=base_url
    )


def start_federation(tmp_path: Path, charter_db: str, holder_db: str) -> Iterator[Federation]:
    """A charter and a People register, running for one test; both stopped afterwards."""
    sock = bound_socket()
    holder_url = f"http://127.0.0.1:{port_of(sock)}"
    charter_settings = node_settings(
        tmp_path / "charter", "charter", "Charter: your account", "charter", CHARTER_URL, charter_db
    )
    holder_settings = node_settings(
        tmp_path / "people", "people-register", "People register", "register", holder_url, holder_db
    )
    document = federation_document(
        (member_of(charter_settings), member_of(holder_settings), *peer_members())
    )
    fed.hold(document, charter_settings, holder_settings, anchor=ANCHOR)
    charter = node_runtime(charter_settings)
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


def running_federation(
    tmp_path: Path, database_url: str, more_databases: Callable[[], str]
) -> Iterator[Federation]:
    """start_federation with the charter on database_url and the register on another database."""
    yield from start_federation(tmp_path, database_url, more_databases())


# --- a person, and a consent the pensions service asks for -----------------------------------

CONSENT_PURPOSE = "pension-administration"
RETURN_URL = "http://127.0.0.1:9/service/consent-return"


def add_person_with_record(fed: Federation, email: str, name: str, address: Any) -> str:
    """A person with an address and date of birth at the People register, signed in: their id."""
    person = fed.add_person(email, name)
    with fed.holder_sessions.begin() as session:
        session.add(
            RegisterRecord(
                pseudonym=pseudonym_for(fed.charter, "people-register", person),
                data=json.dumps({"people.address": address, "people.date_of_birth": "1950-12-10"}),
                version=1,
                updated_at=datetime.now(UTC),
            )
        )
    fed.sign_in(email)
    return person


def ask(fed: Federation, person: str, **changes: Any) -> dict[str, Any]:
    """The pensions service asks for the person's address and date of birth; returns the answer."""
    body = {
        "subject": pseudonym_for(fed.charter, "liverpool-pensions", person, record=True),
        "holder": "people-register",
        "fields": ["people.address", "people.date_of_birth"],
        "purpose": CONSENT_PURPOSE,
        "duration_days": 365,
        "notify": True,
        "return_url": RETURN_URL,
        **changes,
    }
    response = fed.signed(
        "liverpool-pensions", PENSIONS, "POST", "/exchange/v1/consent-requests", body
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def read_address(fed: Federation, consent_id: str) -> ExchangeResponse:
    """The pensions service reads the person's address at the register under consent_id."""
    return fed.call_holder(
        "liverpool-pensions",
        PENSIONS,
        "POST",
        "/exchange/v1/records/read",
        {"fields": ["people.address"]},
        purpose=CONSENT_PURPOSE,
        consent=consent_id,
    )


def agree_to(fed: Federation, request_id: str) -> str:
    """The signed-in person agrees to request_id: the consent id the service gets back."""
    token = fed.browser.csrf(f"/consent/{request_id}")
    answer = fed.browser.post(f"/consent/{request_id}", data={"csrf_token": token, "answer": "yes"})
    assert answer.status_code == 303, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["consent_id"][0]


def agree(fed: Federation, person: str) -> str:
    """The pensions service asks and the person agrees: the consent id."""
    return agree_to(fed, ask(fed, person)["request_id"])
