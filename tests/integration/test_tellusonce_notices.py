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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from digitalstate.exchange.client import LABEL
from digitalstate.exchange.signatures import HttpMessage
from digitalstate.exchange.verification import verify_response
from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import PROBLEM_BASE
from digitalstate.services.models import ServiceConsent
from digitalstate.settings import NodeSettings
from digitalstate.tellusonce.models import ReceivedNotice
from integration.tellusonce_support import received_notices
from support.clients import InProcessClient
from support.federation import federation_document, member
from support.nodes import node_settings, running_node

ANCHOR = KeyPair.from_seed(bytes(range(140, 172)))
REGISTER = KeyPair.from_seed(bytes(range(172, 204)))
OTHER_REGISTER = KeyPair.from_seed(bytes(range(204, 236)))
SERVICE_ID = "test-service"
BASE_URL = "http://service.test"


def document(service_key: KeyPair) -> FederationDocument:
    return federation_document(
        (
            member(SERVICE_ID, service_key, roles=("service",), base_url=BASE_URL),
            member("people-register", REGISTER),
            member("newcastle-tax", OTHER_REGISTER),
        ),
        federation="notices test federation",
    )


@dataclass
class Service:
    """The service node's app, running, and a way to call it as a register."""

    settings: NodeSettings
    runtime: NodeRuntime
    document: FederationDocument
    http: InProcessClient

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
        path = "/exchange/v1/notices"
        url = BASE_URL + path
        headers = {"content-type": "application/json"}
        if not signed:
            return self.http.post(path, content=raw, headers=headers)
        response = self.http.signed(member_id, key, self.document, "POST", path, raw, headers)
        if response.status_code < 500:
            verify_response(
                HttpMessage(dict(response.headers.items()), status=response.status_code),
                response.content,
                HttpMessage(self.http.last_signed, method="POST", target_uri=url),
                LABEL,
                expected_signer=SERVICE_ID,
                keys=self.document.keys_for,
                now=time.time(),
                skew=60,
            )
        return response

    def rows(self) -> list[ReceivedNotice]:
        return received_notices(self.runtime.sessions)


@pytest.fixture
def service(tmp_path: Path, database_url: str, engine: object) -> Iterator[Service]:
    settings = node_settings(
        tmp_path / "service",
        SERVICE_ID,
        database_url,
        name="Test service",
        roles=["service"],
        base_url=BASE_URL,
        anchor=ANCHOR,
    )
    doc = document(KeyPair.load(settings.key_path))
    with running_node(settings, doc, anchor=ANCHOR) as node:
        yield Service(settings, node.runtime, doc, node.http)


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
        service.http.run(asyncio.sleep(0.02))


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
    response = service.http.signed(
        "people-register", REGISTER, service.document, "GET", "/exchange/v1/services"
    )
    routes = {(s["method"], s["path"]): s for s in response.json()["services"]}
    notices = routes[("POST", "/exchange/v1/notices")]
    assert notices["personal_data"] is False
    assert notices["summary"].startswith("Take a register's change notice once")
