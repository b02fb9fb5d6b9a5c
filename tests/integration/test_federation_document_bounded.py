"""The federation document is read up to a bound (federation/keeper.MAX_DOCUMENT_BYTES) before
its signature is checked: a trust anchor, or whatever answers at its address, that streams
far more is refused, by the node's refresh and by `digitalstate log verify`, having been read
no further than the bound, and the node keeps starting without a document."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digitalstate.federation.keeper import FEDERATION_PATH, MAX_DOCUMENT_BYTES
from digitalstate.node.runtime import NodeRuntime
from digitalstate.transparency.auditor import UsageError, VerifyError, fetch_federation
from support.federation import ANCHOR
from support.nodes import node_settings
from support.servers import streaming_answer

STREAMED = 8 * MAX_DOCUMENT_BYTES
# What the anchor may have sent before the reader shuts the connection: the bound, and the
# socket buffers of both ends (TCP's receive buffer may grow to 32 MiB on loopback here) and
# the HTTP client's own. Read whole, it would be all of STREAMED.
SENT_AT_MOST = STREAMED // 2
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
ANNOUNCED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


async def node_refresh(
    tmp_path: Path, database_url: str, head: bytes, **body: Any
) -> tuple[str, str, int]:
    """A node whose anchor answers with head and then STREAMED bytes (or the body that
    streaming_answer is given): its first refresh's error, the document's URL, and how much
    the anchor had sent."""
    body = {"total": STREAMED, "chunked": b"chunked" in head, **body}
    async with streaming_answer(head, **body) as anchor:
        settings = node_settings(
            tmp_path / "node",
            "people-register",
            database_url,
            anchor_url=f"http://127.0.0.1:{anchor.port}",
        )
        node = NodeRuntime.build(settings)
        async with node.running():
            assert node.keeper.document is None
            error = node.keeper.last_error
    return error, f"http://127.0.0.1:{anchor.port}{FEDERATION_PATH}", anchor.sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("head", [CHUNKED, ANNOUNCED % STREAMED], ids=["chunked", "announced"])
def test_the_node_refuses_a_document_longer_than_the_bound(
    tmp_path: Path, database_url: str, head: bytes
) -> None:
    error, url, sent = asyncio.run(node_refresh(tmp_path, database_url, head))
    if head == CHUNKED:
        said = f"answered more than the {MAX_DOCUMENT_BYTES} bytes allowed"
    else:
        said = f"answered {STREAMED} bytes, more than the {MAX_DOCUMENT_BYTES} allowed"
    assert error == f"trust anchor unreachable: {url} {said}"
    assert sent < SENT_AT_MOST


async def verify_fetch(
    head: bytes, *, seconds: float = 30, **body: Any
) -> tuple[VerifyError | UsageError, int]:
    """`log verify`'s fetch of the document from an anchor answering with head and then
    STREAMED bytes (or the body that streaming_answer is given): its error, and how much the
    anchor had sent."""
    body = {"total": STREAMED, "chunked": True, **body}
    async with streaming_answer(head, **body) as anchor:
        with pytest.raises((VerifyError, UsageError)) as refused:
            await asyncio.to_thread(
                fetch_federation,
                f"http://127.0.0.1:{anchor.port}",
                ANCHOR.public,
                at=datetime.now(UTC),
                answer_seconds=seconds,
            )
    return refused.value, anchor.sent


def test_log_verify_refuses_a_document_longer_than_the_bound() -> None:
    error, sent = asyncio.run(verify_fetch(CHUNKED))
    assert isinstance(error, VerifyError) and error.kind == "unreachable"
    assert str(error).endswith(f"answered more than the {MAX_DOCUMENT_BYTES} bytes allowed")
    assert sent < SENT_AT_MOST


def test_log_verify_counts_a_compressed_document_as_decompressed_and_stops_at_the_bound() -> None:
    # 64 MiB of zeros are 65 KB of gzip: within the bound as sent, four times over it as read.
    bomb = gzip.compress(bytes(4 * MAX_DOCUMENT_BYTES), compresslevel=9)
    head = ANNOUNCED % len(bomb)
    head = head.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
    error, _ = asyncio.run(verify_fetch(head, chunked=False, content=bomb))
    assert isinstance(error, VerifyError) and error.kind == "unreachable"
    assert str(error).endswith(f"answered more than the {MAX_DOCUMENT_BYTES} bytes allowed")


@pytest.mark.parametrize("what", ["head", "body"])
def test_log_verify_gives_up_on_an_answer_that_trickles_past_its_time(what: str) -> None:
    # A byte every 0.02 s: a timeout of each read would never trip, and the whole answer
    # would take 2,000 s. --timeout bounds the whole exchange, its head included.
    answer = ANNOUNCED % 100_001 + b"{" + b" " * 100_000
    if what == "head":
        head, content = b"", answer
    else:
        head, content = answer[: answer.index(b"{")], answer[answer.index(b"{") :]
    error, sent = asyncio.run(
        verify_fetch(head, chunked=False, content=content, piece_bytes=1, pause=0.02, seconds=1)
    )
    assert isinstance(error, VerifyError) and error.kind == "unreachable"
    assert str(error).endswith("did not answer: timed out"), str(error)
    assert sent < 1000


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_document_nested_past_the_parser_is_refused_and_the_node_starts(
    tmp_path: Path, database_url: str
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    error, url, _ = asyncio.run(
        node_refresh(tmp_path, database_url, ANNOUNCED % len(nested), content=nested)
    )
    said = "did not answer JSON: the JSON is nested too deeply to read"
    assert error == f"trust anchor unreachable: {url} {said}"
    verified, _ = asyncio.run(verify_fetch(ANNOUNCED % len(nested), chunked=False, content=nested))
    assert str(verified).endswith("did not answer a federation document (not JSON)")
