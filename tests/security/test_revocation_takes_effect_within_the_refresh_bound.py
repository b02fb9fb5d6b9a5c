"""A member the trust anchor revokes is refused within [anchor] reload_seconds + refresh_seconds.

The real trust anchor runs on a loopback port (uvicorn in a thread) and the real node app runs
in-process, fetching from it over HTTP with If-None-Match. Intervals are shortened so that the
bound is a fraction of a second; the defaults (5 s + 10 s) give the documented 30 s at most.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digitalstate.app import create_anchor_app, create_node_app
from digitalstate.exchange.client import ExchangeClient
from digitalstate.federation import service
from digitalstate.federation.anchor import AnchorRuntime
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.keeper import BACKOFF_MAX_SECONDS, NOT_MODIFIED, Fetched
from digitalstate.federation.setup import init_anchor
from digitalstate.node.runtime import NodeRuntime
from digitalstate.node.setup import init_node
from digitalstate.settings import (
    AnchorSection,
    AnchorSettings,
    ExchangeSection,
    FederationSection,
    NodeSettings,
)
from integration.node_app_support import BASE_URL, CALLER, CALLER_ID, assert_problem
from support.clients import InProcessClient
from support.servers import LoopbackServer, bound_socket

SERVICES = "/exchange/v1/services"
FEDERATION = "/.well-known/digitalstate/federation"
RELOAD_SECONDS = 0.2
REFRESH_SECONDS = 0.2
VALIDITY = timedelta(hours=24)


@dataclass
class Federation:
    """A running trust anchor, a node that fetches from it, and the anchor's own runtime."""

    anchor: AnchorRuntime
    anchor_url: str
    node: NodeRuntime
    http: InProcessClient
    anchor_server: LoopbackServer

    def revoke(self, member_id: str) -> datetime:
        """Revoke member_id at the anchor, as `digitalstate federation revoke` does."""
        now = datetime.now(UTC)
        with self.anchor.sessions.begin() as session:
            service.revoke_member(
                session, self.anchor.key, member_id=member_id, now=now, validity=VALIDITY
            )
        return now

    def call(self, clock_offset: float = 0) -> httpx.Response:
        """A signed GET of the node's services list by CALLER."""
        client = ExchangeClient(
            CALLER_ID,
            CALLER,
            self.node.keeper.current,
            clock=lambda: time.time() + clock_offset,
        )
        headers = client.sign_request("GET", BASE_URL + SERVICES, b"", {})
        return self.http.get(SERVICES, headers=headers)


def start_anchor(directory: Path, port: int) -> AnchorSettings:
    """A trust anchor with CALLER as a member, reloading every RELOAD_SECONDS."""
    settings, _ = init_anchor(
        directory,
        federation="test federation",
        base_url=f"http://127.0.0.1:{port}",
        host="127.0.0.1",
        port=port,
        catalogue=load_catalogue(),
        validity_hours=VALIDITY.total_seconds() / 3600,
        now=datetime.now(UTC) - timedelta(minutes=1),
    )
    settings.anchor.reload_seconds = RELOAD_SECONDS
    runtime = AnchorRuntime.build(settings)
    try:
        with runtime.sessions.begin() as session:
            service.add_member(
                session,
                runtime.key,
                member_id=CALLER_ID,
                name="Newcastle tax",
                roles=["register"],
                base_url="http://newcastle.test",
                public_key=CALLER.public,
                now=datetime.now(UTC) - timedelta(minutes=1),
                validity=VALIDITY,
            )
    finally:
        runtime.engine.dispose()
    return settings


def node_settings(directory: Path, anchor_url: str, anchor_key: str) -> NodeSettings:
    """A node that asks the anchor every REFRESH_SECONDS."""
    return init_node(
        directory,
        member_id="swansea-motoring",
        name="Swansea motoring office",
        roles=["register", "service"],
        host="127.0.0.1",
        port=8101,
        base_url=BASE_URL,
        anchor_url=anchor_url,
        anchor_public_key=anchor_key,
        extra={"federation": {"refresh_seconds": REFRESH_SECONDS}},
    )


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    anchor_settings = start_anchor(tmp_path / "anchor", port)
    anchor_app = create_anchor_app(anchor_settings)
    anchor: AnchorRuntime = anchor_app.state.anchor
    url = f"http://127.0.0.1:{port}"
    settings = node_settings(tmp_path / "node", url, anchor.key.public.b64)
    node = NodeRuntime.build(settings)
    with (
        LoopbackServer(anchor_app, sock, loop="asyncio", http="h11", ws="none") as anchor_server,
        InProcessClient(create_node_app(settings, node), BASE_URL) as http,
    ):
        yield Federation(anchor, url, node, http, anchor_server)


def wait_until_refused(federation: Federation, limit: float) -> float:
    """Call until the node refuses CALLER; return the seconds it took (fail past limit)."""
    start = time.monotonic()
    while (response := federation.call()).status_code == 200:
        elapsed = time.monotonic() - start
        assert elapsed < limit, f"still accepted {elapsed:.1f} s after the revocation"
        federation.http.run(_pause(0.05))  # lets the node's own refresh task run meanwhile
    assert_problem(response, 401, "key-revoked")
    return time.monotonic() - start


async def _pause(seconds: float) -> None:
    await asyncio.sleep(seconds)


def test_the_default_intervals_bound_a_revocation_to_30_seconds() -> None:
    reload = AnchorSection.model_fields["reload_seconds"].default
    refresh = FederationSection.model_fields["refresh_seconds"].default
    one_request = ExchangeSection.model_fields["client_timeout_seconds"].default
    assert reload + refresh + one_request <= 30
    # Also once the anchor answers again after the node backed off.
    assert reload + max(refresh, min(2 * refresh, BACKOFF_MAX_SECONDS)) + one_request <= 30


def test_a_revoked_members_signed_request_is_refused_within_the_bound(
    federation: Federation,
) -> None:
    assert federation.call().status_code == 200

    federation.revoke(CALLER_ID)

    # The bound is reload + refresh + one request; allow generously for a loaded machine.
    took = wait_until_refused(federation, limit=RELOAD_SECONDS + REFRESH_SECONDS + 5)
    assert took < RELOAD_SECONDS + REFRESH_SECONDS + 5


def test_a_revoked_member_cannot_date_its_signature_before_the_revocation(
    federation: Federation,
) -> None:
    federation.revoke(CALLER_ID)
    wait_until_refused(federation, limit=10)

    # Inside the clock skew (60 s) but before revoked_at: refused all the same.
    assert_problem(federation.call(clock_offset=-30), 401, "key-revoked")


def test_the_anchor_answers_a_current_etag_with_304_and_no_body(federation: Federation) -> None:
    url = federation.anchor_url + FEDERATION
    first = httpx.get(url)
    etag = first.headers["etag"]
    assert first.status_code == 200
    assert etag.startswith('"') and not etag.startswith("W/")  # strong

    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = httpx.get(url, headers={"if-none-match": sent})
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again.headers["etag"] == etag

    assert httpx.get(url, headers={"if-none-match": '"other"'}).status_code == 200


def test_the_node_fetches_the_unchanged_document_as_304_and_the_revocation_in_full(
    federation: Federation,
) -> None:
    node, http = federation.node, federation.http
    held = node.keeper.etag
    assert held is not None  # the node fetched at start and kept the anchor's ETag

    assert http.run(node.fetch_federation(held)) is NOT_MODIFIED
    assert http.run(node.keeper.refresh()).reason == "not-modified"

    federation.revoke(CALLER_ID)
    federation.anchor.reload()  # what the anchor's reload task does every reload_seconds
    fetched = http.run(node.fetch_federation(held))
    assert isinstance(fetched, Fetched)
    assert fetched.etag != held
    # The node's own refresh task may have taken the new version first; either way it is held.
    assert http.run(node.keeper.refresh()).accepted
    assert node.keeper.current().member(CALLER_ID).revoked_at is not None  # type: ignore[union-attr]


def test_a_failing_anchor_is_asked_less_often_and_the_last_good_copy_is_kept(
    federation: Federation,
) -> None:
    keeper = federation.node.keeper
    held = keeper.current()

    federation.anchor_server.stop()  # the anchor goes down: the node's fetches are refused
    waits = []
    for _ in range(8):
        federation.http.run(keeper.refresh())
        waits.append(keeper.next_wait(10))
    assert waits == [15] * 8  # twice the interval, but within BACKOFF_MAX_SECONDS
    assert keeper.next_wait(5) == 10
    assert keeper.next_wait(0.2) == 0.4
    assert keeper.next_wait(60) == 60  # a longer interval is the operator's choice
    assert keeper.current() is held
