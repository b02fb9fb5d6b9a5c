"""A node's copy of the federation document, across real node processes.

The trust anchor is another party, so for the refusals a small HTTP server in the test stands
in for it: it serves documents signed with a key the test holds (pinned in the node), or a
bad signature, an older version, an expired document, or nothing at all. The node under test
is always the real process; the last test runs the real trust anchor too.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import HOST, Processes, flags, free_port, http_get, run_cli, wait_for

from digitalstate.exchange.client import ExchangeClient
from digitalstate.federation.domain import FederationDocument, sign_document
from digitalstate.keys import KeyPair
from support.federation import federation_document, member

pytestmark = pytest.mark.e2e

FEDERATION_PATH = "/.well-known/digitalstate/federation"
SERVICES = "/exchange/v1/services"
PROBLEM = "urn:digitalstate:problem:"
REFRESH = "0.3"


class StandInAnchor:
    """A trust anchor stand-in on a fixed port: serves self.envelope, counts fetches."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.envelope: dict[str, Any] | None = None
        self.fetches = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        anchor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with anchor._lock:
                    envelope = anchor.envelope
                    anchor.fetches += 1
                if self.path != FEDERATION_PATH or envelope is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                body = json.dumps(envelope).encode()
                self.send_response(HTTPStatus.OK)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def up(self) -> None:
        """Start answering on the port."""
        self._server = ThreadingHTTPServer((HOST, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop answering: the port is closed."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def serve(self, envelope: dict[str, Any]) -> None:
        """Serve envelope from now on."""
        with self._lock:
            self.envelope = envelope

    def serve_and_wait_for_fetches(self, envelope: dict[str, Any], count: int = 2) -> None:
        """Serve envelope and wait until the node has fetched it count times."""
        with self._lock:
            self.envelope = envelope
            target = self.fetches + count
        wait_for(lambda: self.fetches >= target, 10, f"{count} fetches of the new document")


class Documents:
    """Signs federation documents for the node under test and a caller."""

    def __init__(self, anchor: KeyPair, node_id: str, node_key: KeyPair, node_url: str) -> None:
        self.anchor = anchor
        self.caller = KeyPair.generate()
        since = datetime.now(UTC) - timedelta(hours=1)
        self.members = (
            member(node_id, node_key, name="Node under test", base_url=node_url, since=since),
            member(
                "caller",
                self.caller,
                name="A caller",
                roles=("service",),
                base_url=f"http://{HOST}:9",
                since=since,
            ),
        )

    def document(self, version: int, expires_in: float) -> FederationDocument:
        now = datetime.now(UTC)
        return federation_document(
            self.members,
            federation="stand-in federation",
            version=version,
            issued_at=min(now, now + timedelta(seconds=expires_in)) - timedelta(minutes=1),
            expires_at=now + timedelta(seconds=expires_in),
            catalogue=False,
        )

    def signed(self, version: int, expires_in: float = 3600, key: KeyPair | None = None) -> Any:
        """A signed envelope of the given version, expiring expires_in seconds from now."""
        return sign_document(self.document(version, expires_in), key or self.anchor)


class Node:
    """The node under test: its settings, documents and where it answers."""

    def __init__(self, root: Path, procs: Processes) -> None:
        self.anchor_key = KeyPair.generate()
        self.anchor = StandInAnchor(free_port())
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.config = root / "node" / "node.toml"
        self.procs = procs
        run_cli(
            "node",
            "init",
            *flags(
                id="subject",
                roles="register",
                anchor_key=self.anchor_key.public.b64,
                anchor_url=self.anchor.url,
                dir=root / "node",
                port=port,
            ),
        )
        self.docs = Documents(
            self.anchor_key, "subject", KeyPair.load(root / "node" / "node.key"), self.url
        )

    def serve(self, ready: bool = True) -> None:
        self.child = self.procs.serve_node(
            "subject",
            self.config,
            self.url,
            ready=ready,
            DIGITALSTATE_FEDERATION__REFRESH_SECONDS=REFRESH,
        )

    def stop(self) -> None:
        self.procs.stop(self.child)

    def log(self) -> str:
        """What the node has written to its log so far."""
        return self.child.log_path.read_text(errors="replace")

    def held_version(self) -> int:
        answer = http_get(self.url + FEDERATION_PATH)
        assert answer.status == 200, answer.body
        return int(answer.json()["document"]["version"])

    def ready(self) -> tuple[int, dict[str, Any]]:
        answer = http_get(self.url + "/readyz")
        return answer.status, answer.json()

    def call_as_caller(self) -> tuple[int, str, dict[str, Any]]:
        """A signed call from the caller member: status, content type and body."""

        async def run() -> tuple[int, str, dict[str, Any]]:
            document = self.docs.document(1, 3600)
            client = ExchangeClient("caller", self.docs.caller, lambda: document)
            url = self.url + SERVICES
            headers = client.sign_request("GET", url, b"", {})
            async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
                return r.status, r.headers["content-type"], json.loads(await r.read())

        return asyncio.run(run())


@pytest.fixture
def node(tmp_path: Path, procs: Processes) -> Iterator[Node]:
    subject = Node(tmp_path, procs)
    try:
        yield subject
    finally:
        subject.anchor.down()


def test_the_node_keeps_its_last_good_document_and_stops_exchanging_once_it_expires(
    node: Node,
) -> None:
    node.anchor.up()
    node.anchor.serve(node.docs.signed(1))
    node.serve()
    assert node.held_version() == 1
    assert node.call_as_caller()[0] == 200

    # A newer document that expires soon is accepted.
    expires_in = 7.0
    short_lived = node.docs.signed(2, expires_in=expires_in)
    expiry = time.monotonic() + expires_in
    node.anchor.serve(short_lived)
    wait_for(lambda: node.held_version() == 2, 10, "version 2 to be accepted")

    refused = {
        "bad-signature": node.docs.signed(3, key=KeyPair.generate()),
        "older-version": node.docs.signed(1),
        "expired": node.docs.signed(3, expires_in=-60),
    }
    for reason, envelope in refused.items():
        node.anchor.serve_and_wait_for_fetches(envelope)
        assert node.held_version() == 2, reason
        assert f"federation document refused ({reason})" in node.log(), reason
        status, body = node.ready()
        assert time.monotonic() < expiry - 0.5, "this machine is too slow for the test's timing"
        assert status == 200, (reason, body)

    # The anchor keeps serving only the expired document; the node's own copy runs out.
    wait_for(lambda: node.ready()[0] == 503, expires_in + 10, "the node to be not ready")
    status, body = node.ready()
    assert body["checks"]["federation"]["ok"] is False
    assert "expired" in body["checks"]["federation"]["detail"]
    assert body["checks"]["database"]["ok"] is True
    assert node.held_version() == 2
    assert http_get(node.url + "/healthz").status == 200

    status, content_type, problem = node.call_as_caller()
    assert status == 503
    assert content_type.startswith("application/problem+json")
    assert problem["type"] == PROBLEM + "federation-expired"
    assert "version 2" in problem["detail"]

    # A good new document brings it back (it retries often while it holds no valid one).
    node.anchor.serve(node.docs.signed(3))
    wait_for(lambda: node.ready()[0] == 200, 10, "the node to be ready again")
    assert node.held_version() == 3
    assert node.call_as_caller()[0] == 200


def test_a_node_without_the_anchor_starts_from_its_cached_copy(node: Node) -> None:
    # First start with the anchor down and nothing cached: alive, not ready, no exchange.
    node.serve(ready=False)
    status, body = node.ready()
    assert status == 503
    assert "unreachable" in body["checks"]["federation"]["detail"]
    status, content_type, problem = node.call_as_caller()
    assert status == 503
    assert content_type.startswith("application/problem+json")
    assert problem["type"] == PROBLEM + "federation-unavailable"
    assert http_get(node.url + FEDERATION_PATH).status == 503

    # The anchor comes up: the node fetches, keeps the copy on disk and becomes ready.
    node.anchor.up()
    node.anchor.serve(node.docs.signed(4))
    wait_for(lambda: node.ready()[0] == 200, 10, "the node to be ready")
    cache = node.config.parent / "federation.json"
    assert json.loads(cache.read_text())["document"]["version"] == 4

    # Restarted while the anchor is down, it starts from the copy on disk and is ready.
    node.stop()
    node.anchor.down()
    node.serve()
    assert node.held_version() == 4
    assert node.call_as_caller()[0] == 200


def test_nodes_stay_ready_as_the_real_anchor_re_signs_before_expiry(
    tmp_path: Path, procs: Processes
) -> None:
    # Documents valid 5.4 s, re-signed half way: a node that keeps up is never without one.
    anchor_port, node_port = free_port(), free_port()
    anchor_url, node_url = f"http://{HOST}:{anchor_port}", f"http://{HOST}:{node_port}"
    anchor_config = tmp_path / "anchor" / "anchor.toml"
    run_cli(
        "federation",
        "init",
        *flags(dir=anchor_config.parent, port=anchor_port, validity_hours=0.0015),
    )
    anchor_key = KeyPair.load(anchor_config.parent / "anchor.key").public.b64
    run_cli(
        "node",
        "init",
        *flags(
            id="keeper",
            roles="register",
            anchor_key=anchor_key,
            anchor_url=anchor_url,
            dir=tmp_path / "node",
            port=node_port,
        ),
    )
    run_cli(
        "federation",
        "add-member",
        *flags(config=anchor_config, node_config=tmp_path / "node" / "node.toml"),
    )
    procs.serve_anchor(anchor_config, anchor_url, DIGITALSTATE_ANCHOR__RELOAD_SECONDS="0.3")
    procs.serve_node(
        "keeper",
        tmp_path / "node" / "node.toml",
        node_url,
        DIGITALSTATE_FEDERATION__REFRESH_SECONDS="0.3",
    )
    first = http_get(node_url + FEDERATION_PATH).json()["document"]
    first_expiry = datetime.fromisoformat(first["expires_at"])

    while datetime.now(UTC) < first_expiry + timedelta(seconds=1):
        ready = http_get(node_url + "/readyz")
        assert ready.status == 200, ready.body
        time.sleep(0.2)
    held = http_get(node_url + FEDERATION_PATH).json()["document"]
    assert held["version"] > first["version"]
    assert datetime.fromisoformat(held["expires_at"]) > datetime.now(UTC)
