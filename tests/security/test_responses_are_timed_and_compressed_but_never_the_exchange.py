"""Every response says the server's time (Server-Timing); pages, styles and scripts are gzipped
for a client that asks, and the signed exchange never is: its answers are signed over their
bodies (web/timing.py, web/compression.py; docs/architecture.md, "The HTTP edge")."""

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
    yield from start_register(tmp_path / "register", database_url)


def test_pages_styles_and_errors_are_timed_and_gzipped_when_asked(node: RegisterNode) -> None:
    for path in ("/", "/static/govuk/govuk-frontend.min.css", "/no-such-page"):
        plain = node.http.get(path, headers={"accept-encoding": "identity"})
        answer, raw = node.http.run(_raw(node, path))
        assert TIMING.match(plain.headers["server-timing"]), path
        assert TIMING.match(answer.headers["server-timing"]), path
        assert "content-encoding" not in plain.headers, path
        if len(plain.content) >= 500:
            assert answer.headers["content-encoding"] == "gzip", path
            assert "accept-encoding" in answer.headers["vary"].lower(), path
            body = gzip.decompress(raw)  # a page differs only by its CSP nonce, of one length
            assert len(body) == len(plain.content), path
            assert body == plain.content or b"nonce" in body, path
            assert len(raw) < len(plain.content), path


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
