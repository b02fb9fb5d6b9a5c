"""The operator's outbox page on a register node: what waits, what fails, what is dead; retries.

The register node's real app runs in-process. Its delivery worker is not started, so the
outbox rows stay exactly as each test writes them.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digitalstate.keys import KeyPair
from digitalstate.node.runtime import NodeRuntime
from digitalstate.registers.models import OutboxMessage
from support import nodes
from support.clients import InProcessClient
from support.federation import member

from .operator_support import operator_headers

ANCHOR = KeyPair.from_seed(bytes(range(20, 52)))
PENSIONS = KeyPair.from_seed(bytes(range(52, 84)))
BASE_URL = "http://register.test"
MADE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=50)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Register:
    """A register node's app, running in-process, and its database."""

    runtime: NodeRuntime
    http: InProcessClient
    operator: dict[str, str]

    def client(self, host: str = "127.0.0.1") -> httpx.AsyncClient:
        """A client from host that carries the operator token."""
        return self.http.from_address(host, 50000, headers=self.operator)

    @property
    def loop(self) -> asyncio.Runner:
        """The loop the app runs on."""
        return self.http.loop

    def get(self, http: httpx.AsyncClient, path: str) -> httpx.Response:
        return self.loop.run(http.get(path))

    def post(self, http: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
        return self.loop.run(http.post(path, data=data))

    def add(self, *, attempts: int = 0, dead: bool = False, error: str = "") -> int:
        with self.runtime.sessions.begin() as session:
            row = OutboxMessage(
                idempotency_key=uuid.uuid4().hex,
                consent_id=str(uuid.uuid4()),
                requester="liverpool-pensions",
                pseudonym="p" * 32,
                fields=json.dumps(["people.address"]),
                version=2,
                created_at=MADE,
                attempts=attempts,
                next_attempt_at=MADE + timedelta(days=30),
                last_error=error,
                dead_at=MADE + timedelta(hours=48) if dead else None,
            )
            session.add(row)
            session.flush()
            return row.id

    def row(self, message_id: int) -> OutboxMessage:
        with self.runtime.sessions.begin() as session:
            found = session.get(OutboxMessage, message_id)
            assert found is not None
            return found


def start_register(tmp_path: Path, database_url: str, *, remote: bool) -> Iterator[Register]:
    pensions = member(
        "liverpool-pensions", PENSIONS, name="Liverpool: pensions", roles=("register", "service")
    )
    # No delivery worker: the rows stay as the tests write them.
    with nodes.start_register(
        tmp_path / "register",
        database_url,
        (pensions,),
        base_url=BASE_URL,
        anchor=ANCHOR,
        federation="operator test federation",
        extra={"web": {"operator_remote": remote}},
    ) as node:
        yield Register(node.runtime, node.http, operator_headers(node.settings.data_dir))


@pytest.fixture
def register(tmp_path: Path, database_url: str, engine: object) -> Iterator[Register]:
    yield from start_register(tmp_path, database_url, remote=False)


@pytest.fixture
def open_register(tmp_path: Path, database_url: str, engine: object) -> Iterator[Register]:
    yield from start_register(tmp_path, database_url, remote=True)


def token(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, "the page has no CSRF token"
    return found.group(1)


def section(html: str, heading_id: str) -> str:
    """The part of the page from the heading with heading_id to the next h2."""
    start = html.index(f'id="{heading_id}"')
    end = html.find("<h2", start)
    return html[start : end if end != -1 else len(html)]


def test_the_page_lists_dead_failing_and_waiting_notices_with_their_details(
    register: Register,
) -> None:
    dead = register.add(attempts=31, dead=True, error="liverpool-pensions did not answer")
    failing = register.add(attempts=3, error="answered 503 <federation-expired>")
    waiting = register.add()

    http = register.client()
    page = register.get(http, "/operator/outbox")
    register.loop.run(http.aclose())

    assert page.status_code == 200
    html = page.text
    assert "Outbox: change notices not yet delivered" in html
    assert "answers only requests from this machine" in html
    assert f'action="/operator/outbox/{dead}/retry"' in section(html, "dead")
    assert "liverpool-pensions did not answer" in section(html, "dead")
    assert "Not until retried" in section(html, "dead")
    assert f'action="/operator/outbox/{failing}/retry"' in section(html, "failing")
    assert "answered 503 &lt;federation-expired&gt;" in section(html, "failing")
    assert f'action="/operator/outbox/{waiting}/retry"' in section(html, "pending")
    assert "Liverpool: pensions" in html and "people.address" in html
    assert "Retry every dead-lettered notice" in html


def test_the_page_refuses_a_request_from_another_machine(register: Register) -> None:
    register.add(dead=True)
    http = register.client(host="203.0.113.9")

    page = register.get(http, "/operator/outbox")
    retry = register.post(http, "/operator/outbox/retry-dead", {"csrf_token": "x"})

    assert page.status_code == retry.status_code == 403
    assert "only available on the node&#39;s own machine" in page.text
    assert "operator_remote" in page.text
    register.loop.run(http.aclose())


def test_operator_remote_lets_another_machine_use_the_page(open_register: Register) -> None:
    http = open_register.client(host="203.0.113.9")
    page = open_register.get(http, "/operator/outbox")
    assert page.status_code == 200
    assert "answers requests from any address" in page.text
    open_register.loop.run(http.aclose())


def test_retrying_a_notice_makes_it_due_now_with_a_fresh_count(register: Register) -> None:
    dead = register.add(attempts=31, dead=True)
    http = register.client()
    page = register.get(http, "/operator/outbox")
    before = datetime.now(UTC)

    answer = register.post(http, f"/operator/outbox/{dead}/retry", {"csrf_token": token(page)})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/operator/outbox?retried=1"
    row = register.row(dead)
    assert row.dead_at is None and row.attempts == 0
    assert before - timedelta(seconds=1) <= row.next_attempt_at <= datetime.now(UTC)
    shown = register.get(http, answer.headers["location"])
    assert "1 notice will be sent again now." in shown.text
    register.loop.run(http.aclose())


def test_retry_every_dead_letter_leaves_the_failing_ones_alone(register: Register) -> None:
    dead = [register.add(dead=True) for _ in range(2)]
    failing = register.add(attempts=4)
    http = register.client()
    page = register.get(http, "/operator/outbox")

    answer = register.post(http, "/operator/outbox/retry-dead", {"csrf_token": token(page)})

    assert answer.headers["location"] == "/operator/outbox?retried=2"
    assert all(register.row(d).dead_at is None for d in dead)
    assert register.row(failing).attempts == 4
    register.loop.run(http.aclose())


def test_a_retry_without_the_csrf_token_is_refused_and_changes_nothing(
    register: Register,
) -> None:
    dead = register.add(dead=True)
    http = register.client()
    register.get(http, "/operator/outbox")

    missing = register.post(http, f"/operator/outbox/{dead}/retry", {})
    forged = register.post(http, "/operator/outbox/retry-dead", {"csrf_token": "forged"})

    assert missing.status_code == forged.status_code == 403
    assert register.row(dead).dead_at is not None
    register.loop.run(http.aclose())
