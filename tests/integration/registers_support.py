"""Shared parts of the register tests: rows to start from, and a register node in-process."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.consent.models import HeldConsent
from digitalstate.federation.domain import FederationDocument, Member
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from digitalstate.registers.models import RegisterRecord
from digitalstate.settings import NodeSettings
from digitalstate.transparency.entries import make_entry
from digitalstate.transparency.store import append_entries, record_access
from digitalstate.web.session import (
    SealedCookie,
    load_or_create_session_key,
    session_cookie_name,
)
from digitalstate.web.session_store import KIND_SUBJECT, SqlSessionStore
from support import nodes
from support.clients import InProcessClient, ground_headers
from support.federation import federation_document
from support.federation import member as fed_member

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
    return federation_document(members, federation="registers test federation")


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
    return fed_member(member_id, key, name=name, roles=roles, base_url=f"http://{member_id}.test")


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
        headers = ground_headers(purpose=purpose, consent=consent, basis=basis)
        return self.http.signed(caller, PEERS[caller][2], self.document, "POST", path, raw, headers)

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


def start_register(
    directory: Path, database_url: str, extra: dict[str, dict[str, Any]] | None = None
) -> Iterator[RegisterNode]:
    """The People register's app in-process, holding a fresh federation document (extra: more
    settings, by section)."""
    peers = (member(i, name, roles, key) for i, (name, roles, key) in PEERS.items())
    # No background work: these tests call the register, they do not deliver its notices.
    with nodes.start_register(
        directory,
        database_url,
        peers,
        base_url=BASE_URL,
        anchor=ANCHOR,
        federation="registers test federation",
        extra=extra,
    ) as node:
        yield RegisterNode(node.settings, node.runtime, node.document, node.http)


def problem(response: httpx.Response, status: int, slug: str) -> str:
    """Check response is the problem slug with status: its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug, body
    detail: str = body["detail"]
    return detail


# --- the register's log --------------------------------------------------------------------


PENSIONS_READ: dict[str, Any] = {
    "holder": NODE_ID,
    "requester": "liverpool-pensions",
    "action": "read",
    "outcome": "allowed",
    "purpose": "pension-administration",
}
"""An allowed read by the pensions service, for its pensions: what record_read and append log."""


def record_read(db: Connection, pseudonym: str, now: datetime = NOW, **details: Any) -> None:
    """Log an allowed read of pseudonym's record by the pensions service, for its pensions."""
    record_access(db, pseudonym=pseudonym, now=now, **PENSIONS_READ, **details)


class HasRuntime(Protocol):
    """A running node: anything with its runtime."""

    runtime: NodeRuntime


def append(node: HasRuntime, count: int, pseudonym: str = PERSON, start: int = 0) -> None:
    """count reads of pseudonym's address, logged at NOW with reasons "read {start}" and on.

    The entries are the ones record_read makes, stored in one statement: 65,538 of them one
    statement at a time took 35 s on a loaded PostgreSQL.
    """
    entries = [
        make_entry(
            pseudonym=pseudonym,
            now=NOW,
            fields=["people.address"],
            reason=f"read {n}",
            **PENSIONS_READ,
        )
        for n in range(start, start + count)
    ]
    with node.runtime.engine.begin() as db:
        append_entries(db, entries)
