"""Operator pages answer only from the node's own machine unless [web] operator_remote is on."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from digitalstate.web.operator import from_loopback, operator_allowed


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost"]
)
def test_loopback_addresses_are_the_nodes_own_machine(host: str) -> None:
    assert from_loopback(host)


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "203.0.113.9", "::ffff:203.0.113.9", "2001:db8::1", "testclient", ""]
)
def test_other_addresses_are_not(host: str) -> None:
    assert not from_loopback(host)


def request_from(client: tuple[str, int] | None) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "client": client})


def test_a_request_without_a_client_address_is_refused_unless_remote_is_allowed() -> None:
    assert not operator_allowed(request_from(None), remote=False)
    assert operator_allowed(request_from(None), remote=True)
    assert operator_allowed(request_from(("203.0.113.9", 5000)), remote=True)
    assert operator_allowed(request_from(("127.0.0.1", 5000)), remote=False)
