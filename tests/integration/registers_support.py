"""Shared parts of the register tests: rows to start from, and a register node in-process."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.consent.models import HeldConsent
from digitalstate.exchange.client import ExchangeClient
from digitalstate.exchange.legal_ground import BASIS_HEADER, CONSENT_HEADER, PURPOSE_HEADER
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, Member, MemberKey, sign_document
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.node.setup import init_node
from digitalstate.registers.models import RegisterRecord
from digitalstate.settings import NodeSettings
from digitalstate.web.app import create_node_app
from digitalstate.web.session import (
    SealedCookie,
    load_or_create_session_key,
    session_cookie_name,
)
from digitalstate.web.session_store import KIND_SUBJECT, SqlSessionStore

NOW = datetime(2026, 3, 1, 10, 42, tzinfo=UTC)
PERSON = "k5xq3o7zq2m4jv6wp7a2e3fyd4hbkx2c"
OTHER_PERSON = "a2b3c4d5e6f7g2h3i4j5k6l7m2n3o4p5"
ADDRESS = {"lines": ["12 Mill Lane"], "town": "Swansea", "postcode": "SA1 1AA"}
NEW_ADDRESS = {"lines": ["Flat 3", "4 Quay Street"], "town": "Cardiff", "postcode": "CF10 1EP"}
RECORD = {
    "people.given_names": "Alice",
    "people.family_name": "Sample",
    "people.date_of_birth": "1958-06-01",
    "people.address": ADDRESS,
}


def add_record(
    session: Session, pseudonym: str = PERSON, data: dict[str, Any] | None = None
) -> None:
    """A person's record at the register, version 1."""
    session.add(
        RegisterRecord(
            pseudonym=pseudonym,
            data=json.dumps(data if data is not None else RECORD),
            version=1,
            updated_at=NOW - timedelta(days=30),
        )
    )


def add_consent(
    session: Session,
    *,
    requester: str = "liverpool-pensions",
    pseudonym: str = PERSON,
    fields: tuple[str, ...] = ("people.address", "people.date_of_birth"),
    purpose: str = "pension-administration",
    notify: bool = True,
    status: str = "active",
    granted_at: datetime = NOW - timedelta(days=10),
    expires_at: datetime = NOW + timedelta(days=355),
    withdrawn_at: datetime | None = None,
    consent_id: str | None = None,
) -> str:
    """The holder's copy of a consent; returns its id."""
    consent_id = consent_id or str(uuid.uuid4())
    session.add(
        HeldConsent(
            id=consent_id,
            requester=requester,
            holder_pseudonym=pseudonym,
            fields=json.dumps(list(fields)),
            purpose=purpose,
            granted_at=granted_at,
            expires_at=expires_at,
            notify=notify,
            status=status,
            withdrawn_at=withdrawn_at,
            record="{}",
        )
    )
    return consent_id


def federation(members: tuple[Member, ...] = ()) -> FederationDocument:
    """A fresh federation document of members, with the demo catalogue."""
    now = datetime.now(UTC).replace(microsecond=0)
    catalogue = load_catalogue()
    return FederationDocument(
        federation="registers test federation",
        version=1,
        issued_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(hours=1),
        members=members,
        purposes=catalogue.purposes,
        statutory_bases=catalogue.statutory_bases,
        fields=catalogue.fields,
    )


# A register node running in-process ---------------------------------------------------------

NODE_ID = "people-register"
NODE_NAME = "People register"
BASE_URL = "http://people.test"
ANCHOR = KeyPair.from_seed(bytes(range(200, 232)))
CHARTER = KeyPair.from_seed(bytes(range(1, 33)))
PENSIONS = KeyPair.from_seed(bytes(range(33, 65)))
TAX = KeyPair.from_seed(bytes(range(65, 97)))
ELECTORAL = KeyPair.from_seed(bytes(range(97, 129)))
PEERS: dict[str, tuple[str, tuple[Any, ...], KeyPair]] = {
    "charter": ("Charter", ("charter",), CHARTER),
    "liverpool-pensions": ("Liverpool: pensions", ("register", "service"), PENSIONS),
    "newcastle-tax": ("Newcastle: tax", ("register", "service"), TAX),
    "electoral-registration": ("Electoral registration office", ("register", "service"), ELECTORAL),
}


def member(member_id: str, name: str, roles: tuple[Any, ...], key: KeyPair) -> Member:
    """A member with one key, valid since yesterday."""
    since = datetime.now(UTC) - timedelta(days=1)
    return Member(
        id=member_id,
        name=name,
        roles=roles,
        base_url=f"http://{member_id}.test",
        keys=(MemberKey(public_key=key.public.b64, not_before=since),),
    )


class InProcessClient:
    """A synchronous client for an ASGI app that runs the app's lifespan on its own loop."""

    def __init__(self, app: FastAPI) -> None:
        self.loop = asyncio.Runner()
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
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

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Make a request to the app and wait for its answer."""
        return self.loop.run(self.client.request(method, path, **kwargs))


@dataclass
class RegisterNode:
    """A register node's app, its runtime and the federation document it holds."""

    settings: NodeSettings
    runtime: NodeRuntime
    document: FederationDocument
    http: InProcessClient

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The node's database sessions."""
        return self.runtime.sessions

    def call(
        self,
        path: str,
        body: Any,
        *,
        caller: str = "liverpool-pensions",
        purpose: str | None = "pension-administration",
        consent: str | None = None,
        basis: str | None = None,
    ) -> httpx.Response:
        """POST body to path, signed by caller, naming the ground given."""
        raw = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        for name, value in (
            (PURPOSE_HEADER, purpose),
            (CONSENT_HEADER, consent),
            (BASIS_HEADER, basis),
        ):
            if value is not None:
                headers[name] = value
        client = ExchangeClient(caller, PEERS[caller][2], lambda: self.document)
        signed = client.sign_request("POST", BASE_URL + path, raw, headers)
        return self.http.request("POST", path, content=raw, headers=signed)

    def sign_in(self, pseudonym: str = PERSON) -> str:
        """Sign pseudonym in, as the relying party does after sign-in; return the CSRF token."""
        token = "test-csrf-token"
        web = self.settings.web
        store = SqlSessionStore(
            self.runtime.sessions,
            idle=timedelta(minutes=web.session_idle_minutes),
            absolute=timedelta(hours=web.session_hours),
        )
        session = {"sid": store.start(KIND_SUBJECT, pseudonym, acr="low"), "csrf": token}
        key = load_or_create_session_key(self.settings.data_dir)
        cookie = SealedCookie(key).sign(base64.b64encode(json.dumps(session).encode()))
        self.http.client.cookies.set(session_cookie_name(NODE_ID), cookie.decode())
        return token


async def anchor_is_down() -> Any:
    raise OSError("Connection refused")


def start_register(directory: Path, database_url: str) -> Iterator[RegisterNode]:
    """The People register's app in-process, holding a fresh federation document."""
    settings = init_node(
        directory,
        member_id=NODE_ID,
        name=NODE_NAME,
        roles=["register"],
        host="127.0.0.1",
        port=8102,
        base_url=BASE_URL,
        anchor_url="http://127.0.0.1:9",
        anchor_public_key=ANCHOR.public.b64,
        database_url=database_url,
    )
    node_key = KeyPair.load(settings.key_path)
    document = federation(
        (
            member(NODE_ID, NODE_NAME, ("register",), node_key),
            *(member(i, name, roles, key) for i, (name, roles, key) in PEERS.items()),
        )
    )
    settings.federation_cache_path.write_text(json.dumps(sign_document(document, ANCHOR)))
    runtime = NodeRuntime.build(settings)
    runtime.keeper.fetch = anchor_is_down
    app = create_node_app(settings, runtime)
    # No background work: these tests call the register, they do not deliver its notices.
    runtime.background.clear()
    with InProcessClient(app) as http:
        yield RegisterNode(settings, runtime, document, http)
