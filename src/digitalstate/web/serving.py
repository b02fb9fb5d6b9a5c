"""How a node and the trust anchor are served: uvicorn, with a bounded request head.

uvicorn's httptools protocol (the fast one, used here) keeps a request line and headers of any
size in memory until the head ends, and hands them all to the app: a few hundred kilobytes of
headers cost every layer above a parse. ``BoundedHttpToolsProtocol`` answers 431 with a
``header-too-large`` problem once a head passes ``MAX_HEAD_BYTES`` (16 KiB, uvicorn's own
bound for its h11 protocol, which is set to the same figure should h11 ever be chosen).

It counts two ways, and refuses when either passes the bound: the bytes of each header and the
target as httptools completes them, and every read that arrives wholly inside a head (so one
header that never ends is refused too, within one read of the bound).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import signal
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from digitalstate.problems import PROBLEM_MEDIA_TYPE, Problem

MAX_HEAD_BYTES = 16 * 1024


class _HeadTooLargeError(Exception):
    pass


def _refusal() -> bytes:
    problem = Problem(
        "header-too-large",
        f"the request line and headers pass {MAX_HEAD_BYTES} bytes",
        {"limit_bytes": MAX_HEAD_BYTES},
    )
    body = json.dumps(problem.to_dict()).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head past MAX_HEAD_BYTES with 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._began = False
        self._too_large = False
        self._read_bytes = 0
        self._header_bytes = 0

    def data_received(self, data: bytes) -> None:
        """Feed the parser, then count a read that fell wholly inside a head."""
        if self._too_large:
            return
        self._began = False
        super().data_received(data)
        if self._too_large or not self._in_head or self._began:
            return
        self._read_bytes += len(data)
        if self._read_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def on_message_begin(self) -> None:
        """Start counting a new head."""
        super().on_message_begin()
        self._in_head = True
        self._began = True
        self._read_bytes = 0
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        """Count the request target."""
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count one header line."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """Stop counting: the head is complete."""
        self._in_head = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        """Answer 431 when the parser stopped on the head bound, else as uvicorn does."""
        if self._too_large:
            self._refuse()
            return
        super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEAD_BYTES:
            self._too_large = True
            # Raised inside a parser callback: httptools stops and uvicorn answers through
            # send_400_response, which answers 431 instead.
            raise _HeadTooLargeError

    def _refuse(self) -> None:
        self._too_large = True
        if not self.transport.is_closing():
            self.transport.write(_refusal())
            self.transport.close()


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in a child process
    """Ask the kernel (Linux) to SIGTERM this process when its parent dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def serve(
    app: Any, *, host: str, port: int, log_level: str, access_log: bool, **options: Any
) -> None:
    """Run app under uvicorn with uvloop and the bounded httptools protocol.

    options are further uvicorn settings (the forwarded-header trust of web.hardening; with
    workers, app is the import string of a factory, and factory=True).
    """
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
        "loop": "uvloop",
        "http": BoundedHttpToolsProtocol,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        **options,
    }
    if options.get("workers", 1) == 1:
        uvicorn.run(app, **settings)
        return
    # uvicorn.run with workers, but exiting non-zero when a worker could not start (uvicorn.run
    # then stops every worker and exits 0).
    config = uvicorn.Config(app, **settings)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise SystemExit(STARTUP_FAILURE)
