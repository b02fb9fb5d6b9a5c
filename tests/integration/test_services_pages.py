"""A service's pages against real nodes on loopback: the charter, the People register, pensions.

Three real node apps are served by uvicorn in threads, each with a database of its own (three
SQLite files, or three PostgreSQL schemas). The browser is an httpx client with a cookie jar.
Signing in through the charter is the identity feature's to test: here a test-only route on
the pensions node puts a signed-in Subject in the session, as /auth/callback does. The way
back from the charter's consent screen is followed with the request id the charter really
issued and a consent the test puts in the register's copy, as the charter does when the person
agrees.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.consent.models import ConsentRequest, HeldConsent
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, Member, MemberKey, sign_document
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.node.setup import init_node
from digitalstate.registers.models import RegisterRecord
from digitalstate.registers.service import change_fields
from digitalstate.services.models import ServiceConsent, ServiceCopy
from digitalstate.services.service import refresh_copy
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.web.app import create_node_app
from digitalstate.web.session import start_session
from digitalstate.web.session_store import KIND_SUBJECT

ANCHOR = KeyPair.from_seed(bytes(range(1, 33)))
SUBJECT = "pensionssubject" + "x" * 17
HOLDER_PSEUDONYM = "peopleregister" + "y" * 18
ADDRESS = {"lines": ["1 High Street"], "town": "Liverpool", "postcode": "L1 1AA"}
NEW_ADDRESS = {"lines": ["22 Dale Street"], "town": "Liverpool", "postcode": "L2 2AB"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def anchor_is_down() -> object:
    raise OSError("Connection refused")


@pytest.fixture
def more_database_urls(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two more empty databases of the same kind as database_url, for the other two nodes."""
    if database_url.startswith("sqlite"):
        yield [f"sqlite:///{tmp_path_factory.mktemp('db') / 'node.db'}" for _ in range(2)]
        return
    base = make_url(database_url).difference_update_query(["options"])
    admin_url = base.render_as_string(hide_password=False)
    schemas = [f"t_{secrets.token_hex(6)}" for _ in range(2)]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for schema in schemas:
            admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield [
            base.update_query_dict({"options": f"-csearch_path={s}"}).render_as_string(
                hide_password=False
            )
            for s in schemas
        ]
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SET lock_timeout = '10s'")
            for schema in schemas:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


class Served:
    """A node app served by uvicorn in a thread on a socket bound beforehand."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, args=([sock],), daemon=True)
        self.sock = sock
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "app did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.sock.close()


@dataclass
class Federation:
    """The three running nodes and a browser pointed at the pensions node."""

    charter: NodeSettings
    register: NodeSettings
    pensions: NodeSettings
    browser: httpx.Client
    servers: dict[str, Served]
    databases: dict[str, sessionmaker[Session]]

    def holder_sessions(self) -> sessionmaker[Session]:
        return self.databases["people-register"]

    def pensions_sessions(self) -> sessionmaker[Session]:
        return self.databases["liverpool-pensions"]

    def sign_in(self) -> None:
        assert self.browser.get("/test/sign-in").status_code == 204

    def csrf(self, path: str = "/service/details") -> str:
        found = CSRF.search(self.browser.get(path).text)
        assert found, f"{path} has no CSRF token"
        return found.group(1)


def node_settings(
    tmp_path: Path, member_id: str, roles: list[str], sock: socket.socket, url: str
) -> NodeSettings:
    port = sock.getsockname()[1]
    return init_node(
        tmp_path / member_id,
        member_id=member_id,
        name={"charter": "Charter", "people-register": "People register"}.get(
            member_id, "Liverpool: pensions"
        ),
        roles=roles,
        host="127.0.0.1",
        port=port,
        base_url=f"http://127.0.0.1:{port}",
        anchor_url="http://127.0.0.1:9",
        anchor_public_key=ANCHOR.public.b64,
        database_url=url,
        extra={"tellusonce": {"poll_seconds": 0.1}},
    )


def signed_document(*nodes: NodeSettings) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    catalogue = load_catalogue()
    document = FederationDocument(
        federation="services test federation",
        version=1,
        issued_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(hours=1),
        members=tuple(
            Member(
                id=s.node.id,
                name=s.node.name,
                roles=tuple(s.node.roles),
                base_url=s.node.base_url,
                keys=(
                    MemberKey(
                        public_key=KeyPair.load(s.key_path).public.b64,
                        not_before=now - timedelta(days=1),
                    ),
                ),
            )
            for s in nodes
        ),
        purposes=catalogue.purposes,
        statutory_bases=catalogue.statutory_bases,
        fields=catalogue.fields,
    )
    return json.dumps(sign_document(document, ANCHOR))


def add_sign_in_route(app: FastAPI) -> None:
    @app.get("/test/sign-in", status_code=204)
    def sign_in(request: Request) -> None:
        """Sign the browser in as SUBJECT, as /auth/callback does (tests only)."""
        start_session(request, KIND_SUBJECT, SUBJECT, acr="substantial")


@pytest.fixture
def federation(
    tmp_path: Path, database_url: str, more_database_urls: list[str]
) -> Iterator[Federation]:
    sockets = [socket.socket() for _ in range(3)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    charter = node_settings(tmp_path, "charter", ["charter"], sockets[0], more_database_urls[0])
    register = node_settings(
        tmp_path, "people-register", ["register"], sockets[1], more_database_urls[1]
    )
    pensions = node_settings(tmp_path, "liverpool-pensions", ["service"], sockets[2], database_url)
    envelope = signed_document(charter, register, pensions)
    served: dict[str, Served] = {}
    engines = [make_engine(s.database_url) for s in (charter, register, pensions)]
    try:
        for settings, sock in zip((charter, register, pensions), sockets, strict=True):
            settings.federation_cache_path.write_text(envelope)
            runtime = NodeRuntime.build(settings)
            runtime.keeper.fetch = anchor_is_down
            app = create_node_app(settings, runtime)
            if settings is pensions:
                add_sign_in_route(app)
            served[settings.node.id] = Served(app, sock)
        databases = {
            s.node.id: make_sessions(e)
            for s, e in zip((charter, register, pensions), engines, strict=True)
        }
        with httpx.Client(base_url=pensions.node.base_url, timeout=20) as browser:
            yield Federation(charter, register, pensions, browser, served, databases)
    finally:
        for server in served.values():
            server.stop()
        for engine in engines:
            engine.dispose()


def seed_register(federation: Federation) -> str:
    """A person's record at the register and the register's copy of their consent."""
    consent_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with federation.holder_sessions().begin() as session:
        session.add(
            RegisterRecord(
                pseudonym=HOLDER_PSEUDONYM,
                data=json.dumps(
                    {
                        "people.address": ADDRESS,
                        "people.date_of_birth": "1950-04-02",
                        "people.given_names": "Ada",
                    }
                ),
                version=1,
                updated_at=now,
            )
        )
        session.add(
            HeldConsent(
                id=consent_id,
                requester="liverpool-pensions",
                holder_pseudonym=HOLDER_PSEUDONYM,
                fields=json.dumps(["people.address", "people.date_of_birth"]),
                purpose="pension-administration",
                granted_at=now - timedelta(minutes=1),
                expires_at=now + timedelta(days=365),
                notify=True,
                status="active",
                withdrawn_at=None,
                record="{}",
            )
        )
    return consent_id


def go_to_the_charter(federation: Federation) -> str:
    """Continue on the question page; the request id the charter issued."""
    answer = federation.browser.post("/service/details", data={"csrf_token": federation.csrf()})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(federation.charter.node.base_url + "/")
    with federation.databases["charter"].begin() as session:
        [asked] = session.scalars(select(ConsentRequest))
        assert asked.requester == "liverpool-pensions" and asked.subject == SUBJECT
        assert asked.holder == "people-register"
        assert json.loads(asked.fields) == ["people.address", "people.date_of_birth"]
        assert asked.purpose == "pension-administration" and asked.notify is True
        assert asked.duration_days == 365
        assert asked.return_url == federation.pensions.node.base_url + "/service/consent-return"
        return asked.id


def test_the_start_page_says_what_the_service_needs_and_starts(federation: Federation) -> None:
    page = federation.browser.get("/service")
    assert page.status_code == 200
    assert "Check your State Pension details" in page.text
    assert "Address" in page.text and "Date of birth" in page.text
    assert 'href="/service/details"' in page.text and "Start now" in page.text


def test_the_details_page_sends_a_visitor_who_is_not_signed_in_to_sign_in(
    federation: Federation,
) -> None:
    answer = federation.browser.get("/service/details")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/sign-in?next=%2Fservice%2Fdetails"


def test_a_person_without_a_consent_is_asked_with_the_purpose_wording(
    federation: Federation,
) -> None:
    federation.sign_in()
    page = federation.browser.get("/service/details")
    assert page.status_code == 200
    assert "We need your details from the People register" in page.text
    assert "to work out and pay your State Pension" in page.text  # the catalogue's wording
    assert "365 days" in page.text
    assert 'action="/service/details"' in page.text and "Continue" in page.text


def test_continue_without_the_csrf_token_is_refused(federation: Federation) -> None:
    federation.sign_in()
    federation.browser.get("/service/details")
    assert federation.browser.post("/service/details", data={}).status_code == 403


def test_agreeing_at_the_charter_brings_back_the_details_from_the_register(
    federation: Federation,
) -> None:
    federation.sign_in()
    consent_id = seed_register(federation)
    request_id = go_to_the_charter(federation)

    back = federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )

    assert back.status_code == 303 and back.headers["location"] == "/service/details"
    page = federation.browser.get("/service/details")
    assert "1 High Street" in page.text and "L1 1AA" in page.text
    assert "2 April 1950" in page.text
    assert "Ada" not in page.text  # a field the consent does not cover is never read
    assert "Last updated from the People register at" in page.text
    with federation.pensions_sessions().begin() as session:
        held = session.get(ServiceConsent, consent_id)
        assert held is not None and (held.subject, held.status) == (SUBJECT, "active")
        copy = session.get(ServiceCopy, consent_id)
        assert copy is not None and copy.version == 1


def test_the_way_back_works_once_and_only_for_the_request_this_browser_made(
    federation: Federation,
) -> None:
    federation.sign_in()
    consent_id = seed_register(federation)
    request_id = go_to_the_charter(federation)

    forged = federation.browser.get(
        "/service/consent-return", params={"request_id": "another", "consent_id": consent_id}
    )
    again = federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )

    assert forged.status_code == again.status_code == 400
    assert "This link cannot be used" in forged.text
    with federation.pensions_sessions().begin() as session:
        assert session.get(ServiceConsent, consent_id) is None


def test_saying_no_at_the_charter_shows_what_to_do_instead(federation: Federation) -> None:
    federation.sign_in()
    request_id = go_to_the_charter(federation)

    page = federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "error": "access_denied"}
    )

    assert page.status_code == 200
    assert "You chose not to share your details" in page.text
    assert "What you can do instead" in page.text


def test_a_change_at_the_register_reaches_the_service_and_a_withdrawal_stops_the_copy(
    federation: Federation,
) -> None:
    federation.sign_in()
    consent_id = seed_register(federation)
    request_id = go_to_the_charter(federation)
    federation.browser.get(
        "/service/consent-return", params={"request_id": request_id, "consent_id": consent_id}
    )

    with federation.holder_sessions().begin() as session:
        change_fields(
            session,
            pseudonym=HOLDER_PSEUDONYM,
            changes={"people.address": NEW_ADDRESS},
            now=datetime.now(UTC),
        )
    deadline = time.monotonic() + 10
    while "22 Dale Street" not in (page := federation.browser.get("/service/details")).text:
        assert time.monotonic() < deadline, "the service was not told of the change"
        time.sleep(0.1)
    assert "L2 2AB" in page.text

    with federation.holder_sessions().begin() as session:
        session.execute(
            update(HeldConsent)
            .where(HeldConsent.id == consent_id)
            .values(status="withdrawn", withdrawn_at=datetime.now(UTC))
        )
    outcome = asyncio.run(_refresh(federation.pensions, consent_id))

    assert outcome == "refused"
    page = federation.browser.get("/service/details")
    assert "We can no longer get your details" in page.text
    assert "We no longer keep them up to date" in page.text
    assert "22 Dale Street" in page.text  # the last copy is kept, marked as not updated
    assert "Ask me again" in page.text


async def _refresh(settings: NodeSettings, consent_id: str) -> str:
    runtime = NodeRuntime.build(settings)
    runtime.keeper.fetch = anchor_is_down
    assert runtime.keeper.load_cache()
    try:
        return (await refresh_copy(runtime, consent_id)).outcome
    finally:
        await runtime.client.close()
        runtime.engine.dispose()


def test_continue_when_the_charter_cannot_be_reached_says_there_is_a_problem(
    federation: Federation,
) -> None:
    federation.sign_in()
    token = federation.csrf()
    federation.servers["charter"].stop()

    page = federation.browser.post("/service/details", data={"csrf_token": token})

    assert page.status_code == 503
    assert "There is a problem" in page.text
    assert "We could not ask your digitalstate account for your permission" in page.text
    assert 'action="/service/details"' in page.text  # the person can try again
