"""An app served by uvicorn on a loopback socket, in a thread, for the life of a test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
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
