"""The HTTP server answers 431 to a request head past 16 KiB, before the app sees it.

Served as the node and the trust anchor are (web/serving.py: uvicorn's httptools protocol,
bounded), on a loopback socket in a thread, and spoken to over a raw socket so that the test
controls how the bytes arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.types import Receive, Scope, Send

from digitalstate.problems import PROBLEM_BASE
from digitalstate.web.serving import MAX_HEAD_BYTES, BoundedHttpToolsProtocol
from security.raw_http_support import exchange, status_and_body
from support.servers import LoopbackServer


async def _echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    """The echo app served with the bounded protocol on a free loopback port."""
    with LoopbackServer(
        _echo_app, log_level="critical", lifespan="off", http=BoundedHttpToolsProtocol
    ) as served:
        yield served.sock.getsockname()


def test_a_head_of_many_headers_in_one_write_gets_431_problem_json(
    server: tuple[str, int],
) -> None:
    headers = b"".join(b"x-filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(40))
    answer = exchange(server, b"GET / HTTP/1.1\r\nhost: x\r\n" + headers + b"\r\n")
    status, body = status_and_body(answer)
    assert status == 431
    problem = json.loads(body)
    assert problem["type"] == PROBLEM_BASE + "header-too-large"
    assert problem["limit_bytes"] == MAX_HEAD_BYTES


def test_one_header_that_never_ends_is_refused_within_a_read_of_the_bound(
    server: tuple[str, int],
) -> None:
    start = b"GET / HTTP/1.1\r\nhost: x\r\nx-endless: "
    answer = exchange(server, start, *([b"a" * 4096] * 64))  # 256 KiB, never a line end
    status, _ = status_and_body(answer)
    assert status == 431


def test_a_large_body_after_a_small_head_is_not_counted_as_head(
    server: tuple[str, int],
) -> None:
    body = b"b" * (4 * MAX_HEAD_BYTES)
    request = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body)
    answer = exchange(server, request + body[:1000], body[1000:])
    assert status_and_body(answer) == (200, str(len(body)).encode())


def test_a_head_just_under_the_bound_is_served(server: tuple[str, int]) -> None:
    filler = b"x-filler: " + b"a" * (MAX_HEAD_BYTES - 200) + b"\r\n"
    answer = exchange(server, b"GET / HTTP/1.1\r\nhost: x\r\n" + filler + b"\r\n")
    assert status_and_body(answer) == (200, b"0")
