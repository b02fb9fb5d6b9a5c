"""Register to vote against real nodes: the charter, the People register and Newcastle tax
served on loopback, the electoral registration office in-process (its pages and its identity
check worker, which the test runs with a clock it moves). Four databases: the office's is the
test's, the others more_databases'. A person has an account at the charter and records at
both registers, under each register's pseudonym, as the demo seeds them; the office signs
them in through a test-only route, as /auth/callback would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.electoral.worker import IdentityCheckWorker
from digitalstate.identity.service import create_person, hash_password, pseudonym_for
from digitalstate.registers.models import RegisterRecord
from digitalstate.services.definitions import ServiceDefinition, read_definition
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine, make_sessions
from integration.journey_support import ADDRESS_FORM, date_form
from integration.services_support import add_sign_in_route
from support.federation import hold, nodes_document
from support.nodes import InProcessNode, ServedNode, node_runtime, node_settings, running_node
from support.servers import bound_socket, port_of, stop_all

VOTE = "/services/register-to-vote"
ELECTORAL, CHARTER, PEOPLE, TAX = (
    "electoral-registration",
    "charter",
    "people-register",
    "newcastle-tax",
)
NAMES = {
    ELECTORAL: "Electoral registration office",
    CHARTER: "Charter",
    PEOPLE: "People register",
    TAX: "Newcastle: tax",
}
ROLES = {ELECTORAL: ["register", "service"], CHARTER: ["charter"], PEOPLE: ["register"]}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="submission_token" value="([^"]+)"')
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ADA_NINO = "JG103726A"


@dataclass(frozen=True)
class Voter:
    """A person: their id at the charter and the office's pseudonym for them (their `sub`)."""

    person_id: str
    subject: str


@dataclass
class Clock:
    """The worker's time, which the test moves."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class VoteFederation:
    """The running nodes, their databases, the office in-process and its worker."""

    office: InProcessNode
    settings: dict[str, NodeSettings]
    servers: dict[str, ServedNode]
    databases: dict[str, sessionmaker[Session]]
    definition: ServiceDefinition
    clock: Clock = field(default_factory=Clock)

    @property
    def worker(self) -> IdentityCheckWorker:
        """The office's identity check worker, on the test's clock."""
        return IdentityCheckWorker(
            self.office.runtime, {self.definition.slug: self.definition}, clock=self.clock
        )

    def check_due(self) -> int:
        """One pass of the worker, on the office app's loop: how many checks it took."""
        count: int = self.office.http.run(self.worker.check_due())
        return count

    def add_voter(self, name: str, people: dict[str, Any], nino: str) -> Voter:
        """A person at the charter with records at the People register and the tax register."""
        with self.databases[CHARTER].begin() as session:
            person = create_person(
                session,
                email=f"{name}@example.org",
                display_name=name.title(),
                password_hash=hash_password("correct horse battery staple"),
                now=datetime.now(UTC),
            ).id
        charter = node_runtime(self.settings[CHARTER])
        try:
            assert charter.keeper.load_cache()
            ids = {
                m: pseudonym_for(charter, m, person, record=True) for m in (ELECTORAL, PEOPLE, TAX)
            }
        finally:
            charter.engine.dispose()
        for member, data in ((PEOPLE, people), (TAX, {"tax.national_insurance_number": nino})):
            with self.databases[member].begin() as session:
                session.add(
                    RegisterRecord(
                        pseudonym=ids[member],
                        data=json.dumps(data),
                        version=1,
                        updated_at=datetime.now(UTC),
                    )
                )
        return Voter(person, ids[ELECTORAL])

    # --- the person's browser at the office -------------------------------------------------

    def sign_in(self, voter: Voter) -> None:
        self.office.http.client.cookies.clear()
        answer = self.office.http.get("/test/sign-in", params={"sub": voter.subject})
        assert answer.status_code == 204

    def csrf(self, path: str) -> str:
        found = CSRF.search(self.office.http.get(path).text)
        assert found, path
        return found.group(1)

    def apply(self, voter: Voter, *, nino: str | None, open_register: bool, postal: bool) -> str:
        """voter answers every page (nino None: they send a document instead): the reference."""
        self.sign_in(voter)
        http = self.office.http
        assert "We can fill in some of your answers" in http.get(f"{VOTE}/begin").text
        chose = http.post(
            f"{VOTE}/consent", data={"csrf_token": self.csrf(f"{VOTE}/begin"), "choice": "type"}
        )
        assert chose.headers["location"] == f"{VOTE}/nationality"
        pages: list[tuple[str, dict[str, Any], Any]] = [
            ("nationality", {"nationality": "british"}, None),
            ("name", {"given-names": "Ada", "family-name": "Lovelace"}, None),
            ("date-of-birth", date_form("date-of-birth", 2, 4, 1950), None),
            ("address", ADDRESS_FORM, None),
            ("moved", {"moved": "no"}, None),
            ("has-national-insurance", {"has-national-insurance": "yes" if nino else "no"}, None),
        ]
        if nino:
            pages.append(("national-insurance", {"national-insurance-number": nino}, None))
        else:
            files = {"identity-evidence": ("passport.png", PNG, "image/png")}
            pages.append(("identity-evidence", {}, files))
        pages += [
            ("open-register", {"open-register": "yes" if open_register else "no"}, None),
            ("postal-vote", {"postal-vote": "yes" if postal else "no"}, None),
        ]
        for page, data, files in pages:
            path = f"{VOTE}/{page}"
            sent = http.post(path, data={"csrf_token": self.csrf(path), **data}, files=files)
            assert sent.status_code == 303, (page, sent.text)
        check = http.get(f"{VOTE}/check-answers")
        token = TOKEN.search(check.text)
        assert token, check.text
        form = {"csrf_token": self.csrf(f"{VOTE}/check-answers"), "submission_token": token[1]}
        sent = http.post(f"{VOTE}/submit", data=form)
        assert sent.status_code == 303
        return str(sent.headers["location"]).rsplit("/", 1)[1]


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40
ADA_PEOPLE = {
    "people.given_names": "Ada",
    "people.family_name": "Lovelace",
    "people.date_of_birth": "1950-04-02",
}


def running_vote_federation(
    tmp_path: Path, database_url: str, more_databases: Callable[[], str], *, tax_up: bool = True
) -> Iterator[VoteFederation]:
    """The four nodes, running (the tax register only once started when tax_up is False)."""
    served = (CHARTER, PEOPLE, TAX)
    sockets = {member: bound_socket() for member in served}
    urls = {ELECTORAL: database_url} | {member: more_databases() for member in served}
    settings = {
        member: node_settings(
            tmp_path / member,
            member,
            urls[member],
            name=NAMES[member],
            roles=ROLES.get(member, ["register"]),
            port=port_of(sockets[member]) if member in sockets else 8101,
            extra=(
                {"services": {"files": [str(DEMO_SERVICES / "register-to-vote.toml")]}}
                if member == ELECTORAL
                else None
            ),
        )
        for member in (ELECTORAL, *served)
    }
    document = nodes_document(*settings.values(), federation="vote test federation")
    hold(document, *settings.values())
    engines = {member: make_engine(url) for member, url in urls.items()}
    servers = {m: ServedNode(settings[m], sockets[m]) for m in served}
    try:
        for member, server in servers.items():
            if member != TAX or tax_up:
                server.start()
        with running_node(
            settings[ELECTORAL], document, background=False, prepare=add_sign_in_route
        ) as office:
            yield VoteFederation(
                office,
                settings,
                servers,
                {m: make_sessions(e) for m, e in engines.items()},
                read_definition(DEMO_SERVICES / "register-to-vote.toml"),
            )
    finally:
        stop_all(servers.values())
        for engine in engines.values():
            engine.dispose()
