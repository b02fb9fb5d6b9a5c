"""A node's app in-process, on SQLite and PostgreSQL: health, pages, problems and signed exchange.

No trust anchor runs: the node starts from a federation document already in its cache file,
signed with an anchor key made here, and its fetch from the anchor fails as if the anchor were
down. Calls are made in-process through httpx's ASGI transport (Starlette's TestClient now warns
about httpx), signed the way a peer signs them.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from digitalstate.exchange.client import LABEL, ExchangeClient
from digitalstate.exchange.legal_ground import (
    BASIS_HEADER,
    CONSENT_HEADER,
    PURPOSE_HEADER,
    Ground,
    personal_data,
)
from digitalstate.exchange.signatures import HttpMessage
from digitalstate.exchange.verification import verify_response
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import (
    FederationDocument,
    sign_document,
)
from digitalstate.keys import KeyPair
from digitalstate.node.roles import SEQUENCER, WITNESS
from digitalstate.settings import NodeSettings
from digitalstate.storage import migrate
from integration.node_app_support import (
    ANCHOR,
    BASE_URL,
    CALLER,
    CALLER_ID,
    MAX_BODY_BYTES,
    NODE_ID,
    NODE_NAME,
    STRANGER,
    assert_problem,
    federation_document,
    make_node_settings,
)
from integration.operator_support import operator_headers
from support.clients import InProcessClient
from support.nodes import running_node

PURPOSE = load_catalogue().purposes[0].code


class Echo(BaseModel):
    """A test-only JSON body."""

    text: str


def add_test_routes(app: FastAPI) -> None:
    """Routes the node does not offer yet: one for personal data, one with a JSON body."""

    @app.get("/exchange/v1/test-personal")
    async def read_test_person(ground: Ground = personal_data) -> dict[str, Any]:
        """Read a test person's record (tests only)."""
        return {
            "requester": ground.requester,
            "purpose": ground.purpose,
            "consent": ground.consent_id,
            "basis": ground.basis_id,
        }

    @app.post("/exchange/v1/test-echo")
    async def echo(body: Echo) -> Echo:
        """Answer with the body it was given (tests only)."""
        return body


@dataclass
class Node:
    """A running node app, the document it holds and a client to call it with."""

    settings: NodeSettings
    document: FederationDocument
    http: InProcessClient

    def signed(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        key: KeyPair = CALLER,
        member_id: str = CALLER_ID,
        clock_offset: float = 0,
    ) -> tuple[httpx.Response, HttpMessage]:
        """Call path signed by member_id; return the response and the request as signed."""
        response = self.http.signed(
            member_id,
            key,
            self.document,
            method,
            path,
            body,
            headers,
            clock=lambda: time.time() + clock_offset,
        )
        signed = HttpMessage(self.http.last_signed, method=method, target_uri=BASE_URL + path)
        return response, signed

    def verify(self, response: httpx.Response, request: HttpMessage) -> None:
        """Check that the response is signed by the node and bound to request."""
        verify_response(
            HttpMessage(
                {k.lower(): v for k, v in response.headers.items()}, status=response.status_code
            ),
            response.content,
            request,
            LABEL,
            expected_signer=NODE_ID,
            keys=self.document.keys_for,
            now=time.time(),
            skew=60,
        )


def start_node(
    tmp_path: Path, database_url: str, *, expired: bool = False, cached: bool = True
) -> Iterator[Node]:
    settings = make_node_settings(tmp_path / "node", database_url)
    document = federation_document(KeyPair.load(settings.key_path), expired=expired)
    # add_test_routes before the lifespan starts: the services list is made then.
    with running_node(
        settings, document, anchor=ANCHOR, cached=cached, prepare=add_test_routes
    ) as running:
        yield Node(settings, document, running.http)


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[Node]:
    yield from start_node(tmp_path, migrated_database_url)


@pytest.fixture
def expired_node(tmp_path: Path, migrated_database_url: str) -> Iterator[Node]:
    yield from start_node(tmp_path, migrated_database_url, expired=True)


@pytest.fixture
def unfed_node(tmp_path: Path, migrated_database_url: str) -> Iterator[Node]:
    """A node that has never obtained a federation document (the anchor is down)."""
    yield from start_node(tmp_path, migrated_database_url, cached=False)


# health and pages -------------------------------------------------------------------------


def test_healthz_answers_without_authentication(node: Node) -> None:
    response = node.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_is_ready_with_a_migrated_database_and_a_fresh_document(node: Node) -> None:
    response = node.http.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {
        "ok": True,
        "detail": f"schema at {migrate.head_revision()}",
    }
    assert body["checks"]["federation"]["ok"] is True
    assert body["checks"]["federation"]["detail"].startswith("version 3, expires ")


def test_readyz_and_metrics_name_the_worker_and_the_roles_it_holds(node: Node) -> None:
    # The only process of the node takes every role (on PostgreSQL, its advisory locks).
    deadline = time.monotonic() + 10
    while (worker := node.http.get("/readyz").json()["worker"])["standby"]:
        assert time.monotonic() < deadline, f"roles not taken: {worker}"
        time.sleep(0.01)
    assert worker["pid"] == os.getpid()
    assert worker["id"] == f"{socket.gethostname()}:{os.getpid()}"
    assert {SEQUENCER, WITNESS} <= set(worker["holds"])

    metrics = node.http.get("/metrics", headers=operator_headers(node.settings.data_dir)).text
    assert f'digitalstate_worker_info{{pid="{os.getpid()}",worker="{worker["id"]}"}} 1.0' in metrics
    for role in worker["holds"]:
        assert f'digitalstate_role_held{{role="{role}",worker="{worker["id"]}"}} 1.0' in metrics
    # Every sample names the worker, the log's own too: behind one port, each worker's counts
    # are series of their own.
    samples = [s for f in text_string_to_metric_families(metrics) for s in f.samples]
    assert any(s.name == "digitalstate_log_pending" for s in samples)
    assert {s.labels.get("worker") for s in samples} == {worker["id"]}


def test_readyz_is_not_ready_once_the_document_has_expired(expired_node: Node) -> None:
    response = expired_node.http.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["federation"]["ok"] is False
    assert "version 3 expired at" in body["checks"]["federation"]["detail"]


def test_readyz_says_why_when_no_document_was_ever_obtained(unfed_node: Node) -> None:
    response = unfed_node.http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["federation"] == {
        "ok": False,
        "detail": "trust anchor unreachable: Connection refused",
    }


def test_no_exchange_happens_before_a_document_is_obtained(unfed_node: Node) -> None:
    response, _ = unfed_node.signed("GET", "/exchange/v1/services")
    assert_problem(response, 503, "federation-unavailable")


def test_the_home_page_says_what_the_node_is_and_offers(node: Node) -> None:
    response = node.http.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert NODE_NAME in response.text
    assert NODE_ID in response.text
    assert "test federation" in response.text
    assert "/exchange/v1/services" in response.text


def test_the_node_publishes_the_federation_document_it_holds(node: Node) -> None:
    response = node.http.get("/.well-known/digitalstate/federation")
    assert response.status_code == 200
    assert response.json() == sign_document(node.document, ANCHOR)


def test_an_unknown_address_is_a_not_found_problem(node: Node) -> None:
    problem = assert_problem(node.http.get("/no/such/page"), 404, "not-found")
    assert problem["instance"] == "/no/such/page"


def test_a_wrong_method_is_a_method_not_allowed_problem(node: Node) -> None:
    assert_problem(node.http.post("/healthz"), 405, "method-not-allowed")


# signed exchange --------------------------------------------------------------------------


def test_a_signed_call_lists_the_services_in_a_response_bound_to_the_request(
    node: Node,
) -> None:
    response, request = node.signed("GET", "/exchange/v1/services")

    assert response.status_code == 200, response.text
    assert f'"signature";req;key="{LABEL}"' in response.headers["signature-input"]
    assert f'keyid="{NODE_ID}"' in response.headers["signature-input"]
    node.verify(response, request)
    body = response.json()
    assert body["member"] == NODE_ID
    services = {s["path"]: s for s in body["services"]}
    assert services["/exchange/v1/services"]["personal_data"] is False
    assert services["/exchange/v1/services"]["method"] == "GET"


def test_the_services_list_shows_which_routes_touch_personal_data(node: Node) -> None:
    response, _ = node.signed("GET", "/exchange/v1/services")

    services = {s["path"]: s for s in response.json()["services"]}
    assert services["/exchange/v1/test-personal"] == {
        "method": "GET",
        "path": "/exchange/v1/test-personal",
        "summary": "Read a test person's record (tests only).",
        "personal_data": True,
    }
    assert services["/exchange/v1/test-echo"]["personal_data"] is False


def test_an_unsigned_call_is_refused_with_signature_missing(node: Node) -> None:
    response = node.http.get("/exchange/v1/services")

    assert_problem(response, 401, "signature-missing")
    assert response.headers["www-authenticate"] == 'Signature realm="digitalstate"'
    assert "signature" not in response.headers  # nothing to bind an answer to


def test_a_call_signed_by_a_stranger_is_refused_with_key_unknown(node: Node) -> None:
    response, _ = node.signed(
        "GET", "/exchange/v1/services", key=STRANGER, member_id="mallory-node"
    )
    assert_problem(response, 401, "key-unknown")


def test_a_call_signed_with_the_wrong_key_is_refused(node: Node) -> None:
    response, _ = node.signed("GET", "/exchange/v1/services", key=STRANGER)
    assert_problem(response, 401, "signature-invalid")


def test_a_replayed_call_is_refused(node: Node) -> None:
    first, request = node.signed("GET", "/exchange/v1/services")
    assert first.status_code == 200

    replay = node.http.get("/exchange/v1/services", headers=request.headers)

    assert_problem(replay, 401, "replayed-nonce")


def test_a_call_from_a_clock_too_far_off_is_refused(node: Node) -> None:
    response, _ = node.signed("GET", "/exchange/v1/services", clock_offset=-300)
    problem = assert_problem(response, 401, "clock-skew")
    assert "at most 60 s apart" in problem["detail"]


def test_a_tampered_body_is_refused_with_digest_mismatch(node: Node) -> None:
    client = ExchangeClient(CALLER_ID, CALLER, lambda: node.document)
    signed = client.sign_request(
        "POST",
        BASE_URL + "/exchange/v1/test-echo",
        b'{"text": "hello"}',
        {"content-type": "application/json"},
    )

    response = node.http.post(
        "/exchange/v1/test-echo", content=b'{"text": "HELLO"}', headers=signed
    )

    assert_problem(response, 401, "digest-mismatch")


def test_a_signed_call_to_an_unknown_exchange_path_is_a_signed_not_found(node: Node) -> None:
    response, request = node.signed("GET", "/exchange/v1/nothing-here")
    assert_problem(response, 404, "not-found")
    node.verify(response, request)


def test_a_body_over_the_limit_is_refused_stating_the_limit(node: Node) -> None:
    response, _ = node.signed(
        "POST",
        "/exchange/v1/test-echo",
        body=b"x" * (MAX_BODY_BYTES + 1),
        headers={"content-type": "application/json"},
    )

    problem = assert_problem(response, 413, "body-too-large")
    assert problem["limit_bytes"] == MAX_BODY_BYTES
    assert f"at most {MAX_BODY_BYTES} bytes" in problem["detail"]


def test_a_body_at_the_limit_is_accepted(node: Node) -> None:
    text = "x" * (MAX_BODY_BYTES - len('{"text": ""}'))
    body = json.dumps({"text": text}).encode()
    assert len(body) == MAX_BODY_BYTES

    response, request = node.signed(
        "POST", "/exchange/v1/test-echo", body=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"text": text}
    node.verify(response, request)


def test_malformed_json_is_refused_with_malformed_json(node: Node) -> None:
    response, request = node.signed(
        "POST",
        "/exchange/v1/test-echo",
        body=b'{"text": ',
        headers={"content-type": "application/json"},
    )

    problem = assert_problem(response, 400, "malformed-json")
    assert problem["detail"].startswith("the body is not valid JSON")
    node.verify(response, request)


def test_json_of_the_wrong_shape_is_refused_with_validation_failed(node: Node) -> None:
    response, _ = node.signed(
        "POST",
        "/exchange/v1/test-echo",
        body=b'{"words": "hello"}',
        headers={"content-type": "application/json"},
    )

    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"][0]["location"] == ["body", "text"]


def test_no_exchange_happens_under_an_expired_document(expired_node: Node) -> None:
    response, _ = expired_node.signed("GET", "/exchange/v1/services")
    problem = assert_problem(response, 503, "federation-expired")
    assert "version 3" in problem["detail"]


# personal data ----------------------------------------------------------------------------


def test_a_call_for_personal_data_without_a_purpose_is_refused(node: Node) -> None:
    response, _ = node.signed(
        "GET", "/exchange/v1/test-personal", headers={CONSENT_HEADER: "consent-1"}
    )
    problem = assert_problem(response, 403, "purpose-missing")
    assert PURPOSE_HEADER in problem["detail"]


def test_a_call_for_personal_data_with_an_unknown_purpose_is_refused(node: Node) -> None:
    response, _ = node.signed(
        "GET",
        "/exchange/v1/test-personal",
        headers={PURPOSE_HEADER: "curiosity", CONSENT_HEADER: "consent-1"},
    )
    problem = assert_problem(response, 403, "purpose-unknown")
    assert "'curiosity'" in problem["detail"]


def test_a_call_for_personal_data_without_consent_or_basis_is_refused(node: Node) -> None:
    response, _ = node.signed(
        "GET", "/exchange/v1/test-personal", headers={PURPOSE_HEADER: PURPOSE}
    )
    problem = assert_problem(response, 403, "legal-ground-missing")
    assert CONSENT_HEADER in problem["detail"]
    assert BASIS_HEADER in problem["detail"]


def test_a_call_for_personal_data_with_purpose_and_consent_reaches_the_route(
    node: Node,
) -> None:
    response, request = node.signed(
        "GET",
        "/exchange/v1/test-personal",
        headers={PURPOSE_HEADER: PURPOSE, CONSENT_HEADER: "consent-1"},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "requester": CALLER_ID,
        "purpose": PURPOSE,
        "consent": "consent-1",
        "basis": None,
    }
    node.verify(response, request)


def test_a_call_for_personal_data_with_purpose_and_basis_reaches_the_route(node: Node) -> None:
    response, _ = node.signed(
        "GET",
        "/exchange/v1/test-personal",
        headers={PURPOSE_HEADER: PURPOSE, BASIS_HEADER: "basis-1"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["basis"] == "basis-1"


def test_a_ground_header_added_after_signing_is_refused(node: Node) -> None:
    client = ExchangeClient(CALLER_ID, CALLER, lambda: node.document)
    signed = client.sign_request(
        "GET", BASE_URL + "/exchange/v1/test-personal", b"", {PURPOSE_HEADER: PURPOSE}
    )

    response = node.http.get(
        "/exchange/v1/test-personal", headers={**signed, CONSENT_HEADER: "forged-consent"}
    )

    problem = assert_problem(response, 401, "signature-malformed")
    assert CONSENT_HEADER in problem["detail"]
