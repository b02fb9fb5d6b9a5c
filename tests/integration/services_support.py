"""A service's pages against real nodes on loopback: the charter, the People register, pensions.

Three real node apps are served by uvicorn in threads, each with a database of its own (three
SQLite files, or three PostgreSQL schemas). The browser is an httpx client with a cookie jar.
Signing in through the charter is the identity feature's to test: here a test-only route on
the pensions node puts a signed-in Subject in the session, as /auth/callback does, for a
person who really has an account at the charter. Agreeing on the consent screen is the
consent feature's to test: here the charter's own flow (consent/flows.py answer_request)
answers the request the charter really issued, so the charter keeps the consent and the
register its copy, as when the person clicks "Yes".

A test module makes its fixture with `yield from running_federation(...)`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.consent import flows
from digitalstate.consent.models import ConsentRequest
from digitalstate.demo.federation import service_setting
from digitalstate.identity.service import create_person, hash_password, pseudonym_for
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.registers.models import RegisterRecord
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.web.session import start_session
from digitalstate.web.session_store import KIND_SUBJECT
from support.clients import http_client
from support.federation import hold, nodes_document
from support.nodes import ServedNode, node_runtime, node_settings
from support.servers import bound_socket, port_of, stop_all

ANCHOR = KeyPair.from_seed(bytes(range(1, 33)))
ADDRESS = {"lines": ["1 High Street"], "town": "Liverpool", "postcode": "L1 1AA"}
NEW_ADDRESS = {"lines": ["22 Dale Street"], "town": "Liverpool", "postcode": "L2 2AB"}
ADA_RECORD = {
    "people.address": ADDRESS,
    "people.date_of_birth": "1950-04-02",
    "people.given_names": "Ada",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SERVICE = "liverpool-pensions"
REGISTER = "people-register"


@dataclass(frozen=True)
class Citizen:
    """A person with an account at the charter, and the pseudonyms pensions and the register use."""

    person_id: str
    subject: str  # pensions' pseudonym: the `sub` pensions signs them in with
    holder_pseudonym: str  # the People register's pseudonym


@dataclass
class Federation:
    """The three running nodes and a browser pointed at the pensions node."""

    charter: NodeSettings
    register: NodeSettings
    pensions: NodeSettings
    browser: httpx.Client
    servers: dict[str, ServedNode]
    databases: dict[str, sessionmaker[Session]]
    citizens: dict[str, Citizen] = field(default_factory=dict)

    def holder_sessions(self) -> sessionmaker[Session]:
        return self.databases[REGISTER]

    def pensions_sessions(self) -> sessionmaker[Session]:
        return self.databases[SERVICE]

    def charter_sessions(self) -> sessionmaker[Session]:
        return self.databases["charter"]

    @property
    def ada(self) -> Citizen:
        """The person most tests sign in as."""
        return self.citizens["ada"]

    def add_citizen(self, name: str, data: dict[str, Any]) -> Citizen:
        """A person with an account at the charter and a record of data at the register."""
        now = datetime.now(UTC)
        with self.charter_sessions().begin() as session:
            person = create_person(
                session,
                email=f"{name}@example.org",
                display_name=name.title(),
                password_hash=hash_password("correct horse battery staple"),
                now=now,
            ).id
        with charter_runtime(self) as charter:
            subject = pseudonym_for(charter, SERVICE, person, record=True)
            holder_pseudonym = pseudonym_for(charter, REGISTER, person, record=True)
        with self.holder_sessions().begin() as session:
            session.add(
                RegisterRecord(
                    pseudonym=holder_pseudonym, data=json.dumps(data), version=1, updated_at=now
                )
            )
        self.citizens[name] = Citizen(person, subject, holder_pseudonym)
        return self.citizens[name]

    def sign_in(self, citizen: Citizen | None = None) -> None:
        """Sign the browser in at pensions as citizen (Ada by default)."""
        sub = (citizen or self.ada).subject
        assert self.browser.get("/test/sign-in", params={"sub": sub}).status_code == 204

    def csrf(self, path: str = "/service/details") -> str:
        found = CSRF.search(self.browser.get(path).text)
        assert found, f"{path} has no CSRF token"
        return found.group(1)

    def agree(self, request_id: str, citizen: Citizen | None = None) -> str:
        """citizen says yes on the charter's consent screen; the consent id the link brings back."""
        person = (citizen or self.ada).person_id

        async def answer(charter: NodeRuntime) -> str:
            try:
                return await flows.answer_request(
                    charter,
                    request_id=request_id,
                    signed_in=person,
                    agree=True,
                    now=datetime.now(UTC),
                )
            finally:
                await charter.client.close()

        with charter_runtime(self) as charter:
            location = asyncio.run(answer(charter))
        query = parse_qs(urlsplit(location).query)
        assert query["request_id"] == [request_id]
        return query["consent_id"][0]


class charter_runtime:  # noqa: N801 (a context manager used like a function)
    """A charter runtime of its own, on the charter's database and keys, for the test's thread."""

    def __init__(self, federation: Federation) -> None:
        self.runtime = node_runtime(federation.charter)

    def __enter__(self) -> NodeRuntime:
        assert self.runtime.keeper.load_cache()
        return self.runtime

    def __exit__(self, *exc: object) -> None:
        self.runtime.engine.dispose()


def make_settings(
    tmp_path: Path,
    member_id: str,
    roles: list[str],
    url: str,
    port: int,
    service_files: list[str] | None = None,
) -> NodeSettings:
    services = service_setting(member_id, roles)
    if service_files is not None and member_id == SERVICE:
        services = {"services": {"files": list(service_files)}}
    return node_settings(
        tmp_path / member_id,
        member_id,
        url,
        name={"charter": "Charter", REGISTER: "People register"}.get(
            member_id, "Liverpool: pensions"
        ),
        roles=roles,
        port=port,
        anchor=ANCHOR,
        extra={"tellusonce": {"poll_seconds": 0.1}, **services},
    )


def add_sign_in_route(app: FastAPI) -> None:
    @app.get("/test/sign-in", status_code=204)
    def sign_in(request: Request, sub: str, act: str | None = None) -> None:
        """Sign the browser in as sub, as /auth/callback does (tests only); act: the helper's
        pseudonym when a helper signs in for sub."""
        start_session(request, KIND_SUBJECT, sub, acr="substantial", act=act)


def running_federation(
    tmp_path: Path,
    database_url: str,
    more_databases: Callable[[], str],
    service_files: list[str] | None = None,
) -> Iterator[Federation]:
    """The charter, the People register and pensions, running, with Ada at the charter.

    service_files, when given, are pensions' [services] files (else the demo's file)."""
    yield from _run(tmp_path, database_url, [more_databases(), more_databases()], service_files)


def _run(
    tmp_path: Path,
    database_url: str,
    more_database_urls: list[str],
    service_files: list[str] | None = None,
) -> Iterator[Federation]:
    sockets = [bound_socket() for _ in range(3)]
    urls = (more_database_urls[0], more_database_urls[1], database_url)
    ids = (("charter", ["charter"]), (REGISTER, ["register"]), (SERVICE, ["service"]))
    charter, register, pensions = (
        make_settings(tmp_path, member_id, roles, url, port_of(sock), service_files)
        for (member_id, roles), url, sock in zip(ids, urls, sockets, strict=True)
    )
    document = nodes_document(charter, register, pensions, federation="services test federation")
    hold(document, charter, register, pensions, anchor=ANCHOR)
    served: dict[str, ServedNode] = {}
    engines = [make_engine(s.database_url) for s in (charter, register, pensions)]
    try:
        for settings, sock in zip((charter, register, pensions), sockets, strict=True):
            served[settings.node.id] = server = ServedNode(settings, sock)
            if settings is pensions:
                add_sign_in_route(server.app)
            server.start()
        databases = {
            s.node.id: make_sessions(e)
            for s, e in zip((charter, register, pensions), engines, strict=True)
        }
        with http_client(base_url=pensions.node.base_url, timeout=20) as browser:
            running = Federation(charter, register, pensions, browser, served, databases)
            running.add_citizen("ada", ADA_RECORD)
            yield running
    finally:
        stop_all(served.values())
        for engine in engines:
            engine.dispose()


def go_to_the_charter(federation: Federation, citizen: Citizen | None = None) -> str:
    """Continue on the question page; the request id the charter issued."""
    subject = (citizen or federation.ada).subject
    answer = federation.browser.post("/service/details", data={"csrf_token": federation.csrf()})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith(federation.charter.node.base_url + "/")
    with federation.charter_sessions().begin() as session:
        asked = session.scalars(
            select(ConsentRequest)
            .where(ConsentRequest.subject == subject)
            .order_by(ConsentRequest.created_at.desc())
            .limit(1)
        ).one()
        assert asked.requester == SERVICE and asked.holder == REGISTER
        assert json.loads(asked.fields) == ["people.address", "people.date_of_birth"]
        assert asked.purpose == "pension-administration" and asked.notify is True
        assert asked.duration_days == 365
        assert asked.return_url == federation.pensions.node.base_url + "/service/consent-return"
        assert answer.headers["location"].endswith("/consent/" + asked.id)
        return asked.id
