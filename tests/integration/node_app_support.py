"""The node of the node-app tests: its ids, keys, settings and document, and a problem check.

Shared by integration/test_node_app.py and the security tests that start the same node.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from digitalstate.settings import NodeSettings
from support import federation as fed
from support.nodes import node_settings

NODE_ID = "swansea-motoring"
NODE_NAME = "Swansea motoring office"
BASE_URL = "http://swansea.test"
CALLER_ID = "newcastle-tax"
MAX_BODY_BYTES = 2048
ANCHOR = KeyPair.from_seed(bytes(range(10, 42)))
CALLER = KeyPair.from_seed(bytes(range(42, 74)))
STRANGER = KeyPair.from_seed(bytes(range(74, 106)))


def federation_document(node_key: KeyPair, *, expired: bool = False) -> FederationDocument:
    now = datetime.now(UTC).replace(microsecond=0)
    issued = now - timedelta(hours=2) if expired else now - timedelta(minutes=1)
    since = issued - timedelta(days=1)
    return fed.federation_document(
        (
            fed.member(
                NODE_ID,
                node_key,
                name=NODE_NAME,
                roles=("register", "service"),
                base_url=BASE_URL,
                since=since,
            ),
            fed.member(
                CALLER_ID,
                CALLER,
                name="Newcastle tax",
                base_url="http://newcastle.test",
                since=since,
            ),
        ),
        version=3,
        issued_at=issued,
        expires_at=issued + timedelta(hours=1),
    )


def make_node_settings(directory: Path, database_url: str) -> NodeSettings:
    return node_settings(
        directory,
        NODE_ID,
        database_url,
        name=NODE_NAME,
        roles=["register", "service"],
        base_url=BASE_URL,
        anchor=ANCHOR,
        extra={"exchange": {"max_body_bytes": MAX_BODY_BYTES}},
    )


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEM_BASE + slug, problem
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    return problem
