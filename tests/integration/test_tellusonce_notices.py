"""A service node takes each change notice once: POST /exchange/v1/notices, on both databases.

The service node's real app runs in-process (httpx's ASGI transport, lifespan started), and
calls are signed as the register signs them. The re-read worker runs too: a notice for a
consent the service does not hold is marked processed without a read.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from digitalstate.exchange.client import LABEL, ExchangeClient
from digitalstate.exchange.signatures import HttpMessage
from digitalstate.exchange.verification import verify_response
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, Member, MemberKey, sign_document
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.node.setup import init_node
from digitalstate.problems import PROBLEM_BASE
from digitalstate.services.models import ServiceConsent
from digitalstate.settings import NodeSettings
from digitalstate.tellusonce.models import ReceivedNotice
from digitalstate.web.app import create_node_app

ANCHOR = KeyPair.from_seed(bytes(range(140, 172)))
REGISTER = KeyPair.from_seed(bytes(range(172, 204)))
OTHER_REGISTER = KeyPair.from_seed(bytes(range(204, 236)))
SERVICE_ID = "test-service"
BASE_URL = "http://service.test"


async def anchor_is_down() -> object:
    raise OSError("Connection refused")


def document(service_key: KeyPair) -> FederationDocument:
    now = datetime.now(UTC).replace(microsecond=0)
    since = now - timedelta(days=1)

    def member(member_id: str, roles: tuple[str, ...], key: KeyPair, url: str) -> Member:
        return Member(
            id=member_id,
            name=member_id,
            roles=roles,
            base_url=url,
            keys=(MemberKey(public_key=key.public.b64, not_before=since),),
        )

    catalogue = load_catalogue()
    return FederationDocument(
        federation="notices test federation",
        version=1,
        issued_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(hours=1),
        members=(
            member(SERVICE_ID, ("service",), service_key, BASE_URL),
            member("people-register", ("register",), REGISTER, "http://127.0.0.1:9"),
            member("newcastle-tax", ("register",), OTHER_REGISTER, "http://127.0.0.1:9"),
        ),
        purposes=catalogue.purposes,
        statutory_bases=catalogue.statutory_bases,
        fields=catalogue.fields,
    )


@dataclass
class Service:
    """The service node's app, running, and a way to call it as a register."""

    settings: NodeSettings
    runtime: NodeRuntime
    document: FederationDocument
    loop: asyncio.Runner
    http: httpx.AsyncClient

    def notice(
        self,
        body: Any,
        *,
        member_id: str = "people-register",
        key: KeyPair = REGISTER,
        signed: bool = True,
    ) -> httpx.Response:
        """POST body to /exchange/v1/notices as member_id; check the answer's signature."""
        raw = json.dumps(body).encode()
        url = BASE_URL + "/exchange/v1/notices"
        headers = {"content-type": "application/json"}
        if signed:
            client = ExchangeClient(member_id, key, lambda: self.document)
            headers = client.sign_request("POST", url, raw, headers)
        response = self.loop.run(
            self.http.post("/exchange/v1/notices", content=raw, headers=headers)
        )
        if signed and response.status_code < 500:
            verify_response(
                HttpMessage(dict(response.headers.items()), status=response.status_code),
                response.content,
                HttpMessage(headers, method="POST", target_uri=url),
                LABEL,
                expected_signer=SERVICE_ID,
                keys=self.document.keys_for,
                now=time.time(),
                skew=60,
            )
        return response

    def rows(self) -> list[ReceivedNotice]:
        with self.runtime.sessions.begin() as session:
            return list(session.scalars(select(ReceivedNotice)))


@pytest.fixture
def service(tmp_path: Path, database_url: str, engine: object) -> Iterator[Service]:
    settings = init_node(
        tmp_path / "service",
        member_id=SERVICE_ID,
        name="Test service",
        roles=["service"],
        host="127.0.0.1",
        port=8101,
        base_url=BASE_URL,
        anchor_url="http://127.0.0.1:9",
        anchor_public_key=ANCHOR.public.b64,
        database_url=database_url,
    )
    doc = document(KeyPair.load(settings.key_path))
    settings.federation_cache_path.write_text(json.dumps(sign_document(doc, ANCHOR)))
    runtime = NodeRuntime.build(settings)
    runtime.keeper.fetch = anchor_is_down
    app = create_node_app(settings, runtime)
    loop = asyncio.Runner()
    lifespan = app.router.lifespan_context(app)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
    loop.run(lifespan.__aenter__())
    try:
        yield Service(settings, runtime, doc, loop, http)
    finally:
        try:
            loop.run(http.aclose())
            loop.run(lifespan.__aexit__(None, None, None))
        finally:
            loop.close()


def a_notice(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "consent_id": str(uuid.uuid4()),
        "holder": "people-register",
        "fields": ["people.address"],
        "version": 3,
        "idempotency_key": uuid.uuid4().hex,
    }
    body.update(changes)
    return body


def problem_type(response: httpx.Response) -> str:
    return str(response.json()["type"]).removeprefix(PROBLEM_BASE)


def wait_until_processed(service: Service, key: str) -> ReceivedNotice:
    deadline = time.monotonic() + 5
    while True:
        [row] = [r for r in service.rows() if r.idempotency_key == key]
        if row.processed_at is not None:
            return row
        assert time.monotonic() < deadline, "the notice was never processed"
        service.loop.run(asyncio.sleep(0.02))


def test_a_new_notice_is_accepted_and_kept(service: Service) -> None:
    body = a_notice()

    response = service.notice(body)

    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    [row] = service.rows()
    assert row.idempotency_key == body["idempotency_key"]
    assert (row.holder, row.consent_id, row.version) == ("people-register", body["consent_id"], 3)
    assert json.loads(row.fields) == ["people.address"]


def test_a_notice_for_a_consent_the_service_does_not_hold_is_processed_without_a_read(
    service: Service,
) -> None:
    body = a_notice()
    service.notice(body)
    row = wait_until_processed(service, body["idempotency_key"])
    assert row.processed_at is not None


def test_a_duplicate_notice_answers_200_and_changes_nothing(service: Service) -> None:
    body = a_notice()
    service.notice(body)
    before = wait_until_processed(service, body["idempotency_key"])

    again = service.notice(body)
    changed = service.notice({**body, "version": 9, "fields": ["people.family_name"]})

    assert again.status_code == changed.status_code == 200
    assert again.json() == changed.json() == {"status": "duplicate"}
    [after] = service.rows()
    assert (after.received_at, after.processed_at, after.version, after.fields) == (
        before.received_at,
        before.processed_at,
        before.version,
        before.fields,
    )


def test_a_notice_must_come_from_the_register_it_names(service: Service) -> None:
    response = service.notice(a_notice(), member_id="newcastle-tax", key=OTHER_REGISTER)

    assert response.status_code == 403
    assert problem_type(response) == "notice-holder-mismatch"
    assert "sent by 'newcastle-tax'" in response.json()["detail"]
    assert service.rows() == []


def test_a_notice_for_a_consent_held_from_another_register_is_refused(service: Service) -> None:
    consent_id = str(uuid.uuid4())
    with service.runtime.sessions.begin() as session:
        session.add(
            ServiceConsent(
                consent_id=consent_id,
                subject="s" * 32,
                holder="newcastle-tax",
                fields='["people.address"]',
                purpose="tax-administration",
                received_at=datetime.now(UTC),
                status="active",
            )
        )

    response = service.notice(a_notice(consent_id=consent_id))

    assert response.status_code == 403
    assert problem_type(response) == "notice-holder-mismatch"
    assert service.rows() == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(a_notice(fields=[]), id="no fields"),
        pytest.param(a_notice(fields=["address"]), id="a field not named as in the catalogue"),
        pytest.param(a_notice(version=-1), id="a negative version"),
        pytest.param(a_notice(idempotency_key=""), id="no idempotency key"),
        pytest.param(a_notice(idempotency_key="k" * 65), id="a key too long"),
        pytest.param(a_notice(address="1 High Street"), id="personal data in the notice"),
        pytest.param({"consent_id": "c"}, id="missing members"),
    ],
)
def test_a_malformed_notice_is_refused_with_validation_failed(
    service: Service, body: dict[str, Any]
) -> None:
    response = service.notice(body)
    assert response.status_code == 422
    assert problem_type(response) == "validation-failed"
    assert service.rows() == []


def test_an_unsigned_notice_is_refused(service: Service) -> None:
    response = service.notice(a_notice(), signed=False)
    assert response.status_code == 401
    assert problem_type(response) == "signature-missing"
    with service.runtime.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(ReceivedNotice)) == 0


def test_the_service_lists_the_notices_route_as_not_touching_personal_data(
    service: Service,
) -> None:
    client = ExchangeClient("people-register", REGISTER, lambda: service.document)
    url = BASE_URL + "/exchange/v1/services"
    headers = client.sign_request("GET", url, b"", {})
    response = service.loop.run(service.http.get("/exchange/v1/services", headers=headers))
    routes = {(s["method"], s["path"]): s for s in response.json()["services"]}
    notices = routes[("POST", "/exchange/v1/notices")]
    assert notices["personal_data"] is False
    assert notices["summary"].startswith("Take a register's change notice once")
