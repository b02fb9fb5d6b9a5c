"""With `[web] server_timing` on, every response says the server's time (Server-Timing); off (the
default), none does. Static files are gzipped for a client that asks, and nothing else is: a
page holds the session's CSRF token next to what a person typed (BREACH), and an exchange
answer is signed over its body (web/timing.py, web/compression.py; docs/architecture.md,
"The HTTP edge")."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from integration.registers_support import PEERS, RegisterNode, start_register

TIMING = re.compile(r"^app;dur=[0-9]+\.[0-9]$")


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: object) -> Iterator[RegisterNode]:
    timed = {"web": {"server_timing": True}}
    yield from start_register(tmp_path / "register", database_url, extra=timed)


def test_by_default_no_response_says_the_servers_time(
    tmp_path: Path, database_url: str, engine: object
) -> None:
    for node in start_register(tmp_path / "plain", database_url):
        node.sign_in()
        for path in ("/", "/my/details", "/static/digitalstate.css", "/no-such-page"):
            assert "server-timing" not in node.http.get(path).headers, path


def test_static_files_are_gzipped_when_asked_and_every_response_is_timed(
    node: RegisterNode,
) -> None:
    for path in ("/static/govuk/govuk-frontend.min.css", "/static/digitalstate.css"):
        plain = node.http.get(path, headers={"accept-encoding": "identity"})
        answer, raw = node.http.run(_raw(node, path))
        assert TIMING.match(plain.headers["server-timing"]), path
        assert TIMING.match(answer.headers["server-timing"]), path
        assert "content-encoding" not in plain.headers, path
        assert answer.headers["content-encoding"] == "gzip", path
        assert "accept-encoding" in answer.headers["vary"].lower(), path
        assert gzip.decompress(raw) == plain.content, path
        assert len(raw) < len(plain.content) * 0.6, path


def test_pages_and_errors_are_timed_and_never_compressed(node: RegisterNode) -> None:
    node.sign_in()
    for path in ("/", "/my/details", "/no-such-page"):
        answer, raw = node.http.run(_raw(node, path))
        assert TIMING.match(answer.headers["server-timing"]), path
        assert "content-encoding" not in answer.headers, path
        if path != "/no-such-page":
            assert answer.status_code == 200, path
            assert len(raw) >= 500, "large enough that a static file would be compressed"


async def _raw(node: RegisterNode, path: str) -> tuple[httpx.Response, bytes]:
    """The answer to GET path asking for gzip, and its body as sent (not decompressed)."""
    request = node.http.client.build_request("GET", path, headers={"accept-encoding": "gzip"})
    answer = await node.http.client.send(request, stream=True)
    try:
        return answer, b"".join([chunk async for chunk in answer.aiter_raw()])
    finally:
        await answer.aclose()


def test_a_signed_exchange_answer_is_never_compressed(node: RegisterNode) -> None:
    caller = "liverpool-pensions"
    answer = node.http.signed(
        caller,
        PEERS[caller][2],
        node.document,
        "GET",
        "/exchange/v1/services",
        headers={"accept-encoding": "gzip"},
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.content) >= 500, "large enough that it would be compressed elsewhere"
    assert "content-encoding" not in answer.headers
    assert TIMING.match(answer.headers["server-timing"])
