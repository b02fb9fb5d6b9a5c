"""The federation document is read up to a bound (federation/keeper.MAX_DOCUMENT_BYTES) before
its signature is checked: a trust anchor, or whatever answers at its address, that streams
far more is refused, by the node's refresh and by `digitalstate log verify`, having been read
no further than the bound, and the node keeps starting without a document."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digitalstate.federation.keeper import FEDERATION_PATH, MAX_DOCUMENT_BYTES
from digitalstate.node.runtime import NodeRuntime
from digitalstate.transparency.auditor import VerifyError, fetch_federation
from support.federation import ANCHOR
from support.nodes import node_settings
from support.servers import streaming_answer

STREAMED = 4 * MAX_DOCUMENT_BYTES
# What the anchor may have sent before the reader shuts the connection: the bound, and the
# socket buffers of both ends and the HTTP client's own (a few MiB on loopback).
SENT_AT_MOST = 2 * MAX_DOCUMENT_BYTES
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
ANNOUNCED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


async def node_refresh(tmp_path: Path, database_url: str, head: bytes) -> tuple[str, str, int]:
    """A node whose anchor answers with head and then STREAMED bytes: its first refresh's
    error, the document's URL, and how much the anchor had sent."""
    async with streaming_answer(head, chunked=b"chunked" in head, total=STREAMED) as anchor:
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


async def verify_fetch(head: bytes) -> tuple[VerifyError, int]:
    async with streaming_answer(head, chunked=True, total=STREAMED) as anchor:
        with pytest.raises(VerifyError) as refused:
            await asyncio.to_thread(
                fetch_federation,
                f"http://127.0.0.1:{anchor.port}",
                ANCHOR.public,
                at=datetime.now(UTC),
                answer_seconds=30,
            )
    return refused.value, anchor.sent


def test_log_verify_refuses_a_document_longer_than_the_bound() -> None:
    error, sent = asyncio.run(verify_fetch(CHUNKED))
    assert error.kind == "unreachable"
    assert str(error).endswith(f"answered more than the {MAX_DOCUMENT_BYTES} bytes allowed")
    assert sent < SENT_AT_MOST
