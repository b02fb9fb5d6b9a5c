"""Signed exchange between real node processes set up with the CLI, and every way a call fails."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import (
    HOST,
    HttpAnswer,
    Processes,
    flags,
    free_port,
    http_get,
    run_cli,
    run_cli_each,
    wait_for,
)
from yarl import URL

from digitalstate.exchange.client import ExchangeClient, ExchangeError, ExchangeResponse
from digitalstate.exchange.digest import content_digest
from digitalstate.federation.domain import FederationDocument, verify_document
from digitalstate.keys import KeyPair

pytestmark = pytest.mark.e2e

FEDERATION_PATH = "/.well-known/digitalstate/federation"
SERVICES = "/exchange/v1/services"
PROBLEM = "urn:digitalstate:problem:"
MAX_BODY = 1_048_576  # the default [exchange] max_body_bytes
MEMBERS = {"alpha": "service", "bravo": "register", "charlie": "service"}


@dataclass
class Federation:
    """A trust anchor and three members, set up and served through the CLI."""

    root: Path
    anchor_url: str
    urls: dict[str, str]

    @property
    def anchor_config(self) -> Path:
        return self.root / "anchor" / "anchor.toml"

    def key(self, member: str) -> KeyPair:
        return KeyPair.load(self.root / member / "node.key")

    def document(self) -> FederationDocument:
        """The anchor's current document, verified against the anchor's pinned public key."""
        anchor_key = KeyPair.load(self.root / "anchor" / "anchor.key").public
        envelope = http_get(self.anchor_url + FEDERATION_PATH).json()
        return verify_document(envelope, anchor_key, now=datetime.now(UTC))

    def client(self, member: str, key: KeyPair | None = None, **kwargs: Any) -> ExchangeClient:
        """An exchange client signing as member (with its own key unless another is given)."""
        document = self.document()
        return ExchangeClient(member, key or self.key(member), lambda: document, **kwargs)

    def bravo(self, path: str = SERVICES) -> str:
        return self.urls["bravo"] + path


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory, module_procs: Processes) -> Federation:
    """alpha calls, bravo answers, charlie is revoked by the revocation test."""
    root = tmp_path_factory.mktemp("federation")
    anchor_port = free_port()
    anchor_url = f"http://{HOST}:{anchor_port}"
    anchor_config = root / "anchor" / "anchor.toml"
    run_cli("federation", "init", "--dir", str(root / "anchor"), "--port", str(anchor_port))
    anchor_key = KeyPair.load(root / "anchor" / "anchor.key").public.b64
    ports = {member: free_port() for member in MEMBERS}
    run_cli_each(
        [
            "node",
            "init",
            *flags(
                id=member,
                roles=roles,
                anchor_key=anchor_key,
                anchor_url=anchor_url,
                dir=root / member,
                port=ports[member],
            ),
        ]
        for member, roles in MEMBERS.items()
    )
    for member in MEMBERS:
        run_cli(
            "federation",
            "add-member",
            *flags(config=anchor_config, node_config=root / member / "node.toml"),
        )
    urls = {member: f"http://{HOST}:{port}" for member, port in ports.items()}
    module_procs.serve_anchor(anchor_config, anchor_url, DIGITALSTATE_ANCHOR__RELOAD_SECONDS="0.5")
    alpha = module_procs.start(
        "alpha", ["node", "serve", "--config", str(root / "alpha" / "node.toml")], urls["alpha"]
    )
    # bravo refreshes its copy of the federation document often, to see a revocation soon.
    module_procs.serve_node(
        "bravo",
        root / "bravo" / "node.toml",
        urls["bravo"],
        DIGITALSTATE_FEDERATION__REFRESH_SECONDS="0.5",
    )
    module_procs.wait_ready(alpha)
    return Federation(root, anchor_url, urls)


# --- sending ------------------------------------------------------------------------------


async def _body_chunks(body: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def _send_all(
    url: str,
    requests: list[tuple[str, Mapping[str, str], bytes]],
    chunked: bool = False,
) -> list[HttpAnswer]:
    answers = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for method, headers, body in requests:
            # A file-like body keeps its Content-Length; an async generator goes chunked.
            data: Any = (_body_chunks(body) if chunked else io.BytesIO(body)) if body else None
            async with session.request(
                method, URL(url, encoded=True), headers=dict(headers), data=data
            ) as answer:
                payload = await answer.read()
                received = {k.lower(): v for k, v in answer.headers.items()}
                answers.append(HttpAnswer(answer.status, received, payload))
    return answers


def send(
    url: str,
    headers: Mapping[str, str],
    body: bytes = b"",
    method: str = "GET",
    chunked: bool = False,
) -> HttpAnswer:
    """One raw HTTP request with exactly these headers and body."""
    return asyncio.run(_send_all(url, [(method, headers, body)], chunked))[0]


def call(client: ExchangeClient, peer: str, method: str, path: str) -> ExchangeResponse:
    """One call through the exchange client, its answer verified."""

    async def run() -> ExchangeResponse:
        async with client:
            return await client.call(peer, method, path)

    return asyncio.run(run())


def signed(
    client: ExchangeClient, url: str, body: bytes = b"", method: str = "GET"
) -> dict[str, str]:
    """The headers client would send to sign a request."""
    return client.sign_request(method, url, body, {})


def assert_problem(answer: HttpAnswer, status: int, slug: str) -> dict[str, Any]:
    """Check an RFC 9457 problem+json answer of the given status and stable type."""
    assert answer.status == status, answer.body
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    assert problem["type"] == PROBLEM + slug, problem
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Signature")
    return problem


# --- the happy path -----------------------------------------------------------------------


def test_a_member_gets_a_signed_answer_bound_to_its_call(federation: Federation) -> None:
    document = federation.document()
    assert {m.id for m in document.members} == set(MEMBERS)

    answer = call(federation.client("alpha"), "bravo", "GET", SERVICES)

    assert answer.status == 200
    listing = answer.json()
    assert listing["member"] == "bravo"
    assert SERVICES in [s["path"] for s in listing["services"]]
    # The client verified it; here the binding is also visible on the wire.
    assert 'keyid="bravo"' in answer.headers["signature-input"]
    assert '"signature";req;key="sig1"' in answer.headers["signature-input"]
    assert answer.headers["content-digest"] == content_digest(answer.body)


def test_a_signed_call_to_an_unknown_exchange_path_gets_a_signed_404(
    federation: Federation,
) -> None:
    answer = call(federation.client("alpha"), "bravo", "GET", "/exchange/v1/nothing-here")
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == PROBLEM + "not-found"


# --- refused calls ------------------------------------------------------------------------


def test_a_key_unknown_to_the_federation_is_refused(federation: Federation) -> None:
    stranger = federation.client("stranger", KeyPair.generate())
    # The exchange client cannot verify an unsigned refusal, but hands on the problem.
    with pytest.raises(ExchangeError) as refused:
        call(stranger, "bravo", "GET", SERVICES)
    assert refused.value.problem is not None
    assert refused.value.problem.type == PROBLEM + "key-unknown"
    problem = assert_problem(
        send(federation.bravo(), signed(stranger, federation.bravo())), 401, "key-unknown"
    )
    assert "stranger" in problem["detail"]
    assert problem["instance"] == SERVICES


def test_a_members_id_with_another_key_is_refused(federation: Federation) -> None:
    impostor = federation.client("alpha", KeyPair.generate())
    assert_problem(
        send(federation.bravo(), signed(impostor, federation.bravo())), 401, "signature-invalid"
    )


def test_a_body_that_does_not_match_its_digest_is_refused(federation: Federation) -> None:
    client = federation.client("alpha")
    headers = signed(client, federation.bravo(), b'{"amount": 1}', "POST")
    answer = send(federation.bravo(), headers, b'{"amount": 9}', "POST")
    assert_problem(answer, 401, "digest-mismatch")


def test_a_body_changed_with_a_recomputed_digest_is_refused(federation: Federation) -> None:
    client = federation.client("alpha")
    headers = signed(client, federation.bravo(), b'{"amount": 1}', "POST")
    headers["content-digest"] = content_digest(b'{"amount": 9}')
    answer = send(federation.bravo(), headers, b'{"amount": 9}', "POST")
    assert_problem(answer, 401, "signature-invalid")


def test_an_unsigned_call_is_refused(federation: Federation) -> None:
    assert_problem(send(federation.bravo(), {}), 401, "signature-missing")
    digest_only = {"content-digest": content_digest(b"")}
    assert_problem(send(federation.bravo(), digest_only), 401, "signature-missing")


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        pytest.param("sig1=(garbage", "sig1=:AAAA:", id="unparsable-input"),
        pytest.param(None, "sig1=not-a-byte-sequence", id="signature-not-bytes"),
        pytest.param(None, "sig1=:AAAA:, sig2=:AAAA:", id="two-signatures"),
    ],
)
def test_a_malformed_signature_header_is_refused(
    federation: Federation, signature_input: str | None, signature: str
) -> None:
    headers = signed(federation.client("alpha"), federation.bravo())
    if signature_input is not None:
        headers["signature-input"] = signature_input
    if "sig2" in signature:
        headers["signature-input"] += ", sig2=" + headers["signature-input"].split("=", 1)[1]
    headers["signature"] = signature
    assert_problem(send(federation.bravo(), headers), 401, "signature-malformed")


@pytest.mark.parametrize("offset", [-120, 120], ids=["two-minutes-behind", "two-minutes-ahead"])
def test_a_call_signed_too_far_from_the_receivers_clock_is_refused(
    federation: Federation, offset: int
) -> None:
    skewed = federation.client("alpha", clock=lambda: time.time() + offset)
    problem = assert_problem(
        send(federation.bravo(), signed(skewed, federation.bravo())), 401, "clock-skew"
    )
    assert "60 s" in problem["detail"]


def test_a_replayed_call_is_refused(federation: Federation) -> None:
    headers = signed(federation.client("alpha"), federation.bravo())
    first, again = asyncio.run(
        _send_all(federation.bravo(), [("GET", headers, b""), ("GET", headers, b"")])
    )
    assert first.status == 200, first.body
    assert_problem(again, 401, "replayed-nonce")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversize_body_is_refused_stating_the_limit(
    federation: Federation, chunked: bool
) -> None:
    body = b"x" * (MAX_BODY + 1)
    headers = signed(federation.client("alpha"), federation.bravo(), body, "POST")
    answer = send(federation.bravo(), headers, body, "POST", chunked=chunked)
    problem = assert_problem(answer, 413, "body-too-large")
    assert problem["limit_bytes"] == MAX_BODY
    assert str(MAX_BODY) in problem["detail"]


def test_a_revoked_member_is_refused_once_the_receiver_learns_of_it(
    federation: Federation,
) -> None:
    assert call(federation.client("charlie"), "bravo", "GET", SERVICES).status == 200
    before = federation.document().version

    run_cli(
        "federation", "revoke-member", "--config", str(federation.anchor_config), "--id", "charlie"
    )

    def bravo_knows() -> bool:
        copy = http_get(federation.bravo(FEDERATION_PATH)).json()["document"]
        charlie = next(m for m in copy["members"] if m["id"] == "charlie")
        return copy["version"] > before and charlie["revoked_at"] is not None

    wait_for(bravo_knows, 15, "bravo to hold the document that revokes charlie")
    charlie = federation.client("charlie")
    answer = send(federation.bravo(), signed(charlie, federation.bravo()))
    problem = assert_problem(answer, 401, "key-revoked")
    assert "charlie" in problem["detail"]
    # Nobody else is affected.
    assert call(federation.client("alpha"), "bravo", "GET", SERVICES).status == 200


def test_a_second_node_on_a_busy_port_fails_in_one_line_naming_it(federation: Federation) -> None:
    port = federation.urls["bravo"].rsplit(":", 1)[1]
    result = run_cli(
        "node",
        "serve",
        *flags(config=federation.root / "bravo" / "node.toml"),
        check=False,
        process=True,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port}" in lines[0]
    assert "node.toml" in lines[0]
    assert call(federation.client("alpha"), "bravo", "GET", SERVICES).status == 200
