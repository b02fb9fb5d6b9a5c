"""An app served by uvicorn on a loopback socket, in a thread, for the life of a test; and a
raw server on loopback that answers with more than any client may read (streaming_answer)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn


def bound_socket(port: int = 0) -> socket.socket:
    """A socket bound to a loopback port (a free one by default), for uvicorn to listen on.

    Until the server starts, the port is bound but not listening: a call to it is refused at
    once, as when the node is down.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def port_of(sock: socket.socket) -> int:
    """The port sock is bound to."""
    return int(sock.getsockname()[1])


class LoopbackServer:
    """app served by uvicorn on sock in a thread: start() and stop(), or use it with `with`.

    config: more uvicorn.Config options (the default: log_level warning, lifespan on).
    """

    def __init__(self, app: Any, sock: socket.socket | None = None, **config: Any) -> None:
        self.app = app
        self.sock = sock if sock is not None else bound_socket()
        options: dict[str, Any] = {"log_level": "warning", "lifespan": "on", **config}
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def port(self) -> int:
        """The port served."""
        return port_of(self.sock)

    @property
    def url(self) -> str:
        """http://127.0.0.1:port"""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> LoopbackServer:
        """Serve; return once uvicorn has started (fail if it does not within timeout seconds)."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (if it was) and close the socket."""
        self.stopping()
        if self.thread.is_alive():
            self.thread.join(15)
        self.sock.close()

    def stopping(self) -> None:
        """Ask the server to stop, without waiting: it does within its next tick (0.1 s)."""
        if self.thread.is_alive():
            self.server.should_exit = True

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all(servers: Iterable[LoopbackServer]) -> None:
    """Stop every server: all are asked first, so that their ticks to notice it overlap
    rather than add up (each waits up to uvicorn's 0.1 s)."""
    servers = list(servers)
    for server in servers:
        server.stopping()
    for server in servers:
        server.stop()


CHUNK = b"x" * 65_536
"""The pieces streaming_answer sends, by default."""


@dataclass
class Streamed:
    """A streaming_answer server: its port, and how many bytes of body it has sent."""

    port: int = 0
    sent: int = 0
    _open: int = 0
    _idle: asyncio.Event = field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def streaming_answer(
    head: bytes,
    *,
    chunked: bool,
    total: int = 0,
    content: bytes | None = None,
    piece_bytes: int = len(CHUNK),
    pause: float = 0.0,
) -> AsyncIterator[Streamed]:
    """A server on loopback answering any request with head, then a body: content, or else
    `total` bytes of "x", in pieces of piece_bytes (as chunks when chunked) `pause` seconds
    apart, for as long as the client reads them.

    `sent` counts what it wrote before the client shut the connection, so that a test can
    show a bounded reader stopped long before the end. On leaving, it waits (at most 30 s) for
    every connection to end before it closes.
    """
    streamed = Streamed()
    streamed._idle.set()

    def pieces() -> Iterator[bytes]:
        if content is not None:
            yield from (content[i : i + piece_bytes] for i in range(0, len(content), piece_bytes))
            return
        whole, rest = divmod(total, piece_bytes)
        piece = b"x" * piece_bytes
        yield from (piece for _ in range(whole))
        if rest:
            yield piece[:rest]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        streamed._open += 1
        streamed._idle.clear()
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            for piece in pieces():
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
                await writer.drain()
                streamed.sent += len(piece)
                if pause:
                    await asyncio.sleep(pause)
            writer.write(b"0\r\n\r\n" if chunked else b"")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client shut the connection: what the tests want
        finally:
            writer.close()
            streamed._open -= 1
            if not streamed._open:
                streamed._idle.set()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    streamed.port = server.sockets[0].getsockname()[1]
    try:
        yield streamed
    finally:
        await asyncio.wait_for(streamed._idle.wait(), 30)
        server.close()
        await server.wait_closed()
