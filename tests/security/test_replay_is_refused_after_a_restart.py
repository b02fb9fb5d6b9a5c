"""A signed request is accepted once, whatever happens to the node's processes in between.

The nonces of accepted requests live in the node's database (ADR 0013), so a request replayed
within the clock skew is refused after the node restarts, and by another worker of the node.
Each node here is the real app in-process over a database it shares with the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from digitalstate.app import create_node_app
from digitalstate.exchange.client import ExchangeClient
from digitalstate.exchange.nonces import SqlNonceStore
from digitalstate.keys import KeyPair
from digitalstate.settings import NodeSettings
from digitalstate.storage.engine import make_engine
from digitalstate.storage.migrate import upgrade
from integration.node_app_support import (
    ANCHOR,
    BASE_URL,
    CALLER,
    CALLER_ID,
    assert_problem,
    federation_document,
    make_node_settings,
)
from support.clients import InProcessClient
from support.federation import hold
from support.nodes import node_runtime

SERVICES = "/exchange/v1/services"


@pytest.fixture
def settings(tmp_path: Path, migrated_database_url: str) -> NodeSettings:
    """A node's settings, with a federation document in its cache that names CALLER."""
    node_settings = make_node_settings(tmp_path / "node", migrated_database_url)
    document = federation_document(KeyPair.load(node_settings.key_path))
    hold(document, node_settings, anchor=ANCHOR)
    return node_settings


@contextmanager
def running_node(settings: NodeSettings) -> Iterator[InProcessClient]:
    """One process of the node: a fresh runtime over the node's database and files."""
    runtime = node_runtime(settings)
    with InProcessClient(create_node_app(settings, runtime), BASE_URL) as http:
        yield http


def signed_headers() -> dict[str, str]:
    """The headers of one signed GET of the services list, as CALLER sends them."""
    document = federation_document(CALLER)
    client = ExchangeClient(CALLER_ID, CALLER, lambda: document)
    return client.sign_request("GET", BASE_URL + SERVICES, b"", {})


def test_a_request_replayed_after_a_restart_is_refused_as_a_replay(
    settings: NodeSettings,
) -> None:
    headers = signed_headers()
    with running_node(settings) as before:
        assert before.get(SERVICES, headers=headers).status_code == 200

    with running_node(settings) as after:  # a new runtime: nothing kept in memory survives
        assert_problem(after.get(SERVICES, headers=headers), 401, "replayed-nonce")


def test_a_request_accepted_by_one_worker_is_refused_by_another(settings: NodeSettings) -> None:
    headers = signed_headers()
    with running_node(settings) as first, running_node(settings) as second:
        assert first.get(SERVICES, headers=headers).status_code == 200
        assert_problem(second.get(SERVICES, headers=headers), 401, "replayed-nonce")


def test_two_copies_of_a_request_arriving_together_are_accepted_once(
    settings: NodeSettings,
) -> None:
    headers = signed_headers()
    with running_node(settings) as http:

        async def twice() -> list[int]:
            answers = await asyncio.gather(
                http.client.get(SERVICES, headers=headers),
                http.client.get(SERVICES, headers=headers),
            )
            return sorted(a.status_code for a in answers)

        assert http.run(twice()) == [200, 401]


def test_the_store_keeps_a_nonce_until_it_expires_and_purges_it_after(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        store = SqlNonceStore(engine)
        assert store.insert_new([("a", "n1", 1000), ("a", "n2", 2000)]) == {
            ("a", "n1"),
            ("a", "n2"),
        }
        assert store.purge(before=1000) == 0  # kept up to and including its expiry
        assert store.insert_new([("a", "n1", 1500)]) == set()
        assert store.purge(before=1001) == 1
        assert store.insert_new([("a", "n1", 3000), ("a", "n2", 3000)]) == {("a", "n1")}
    finally:
        engine.dispose()
