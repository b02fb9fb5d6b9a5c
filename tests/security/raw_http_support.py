"""Raw HTTP/1.1 over a socket, for tests that must control every byte and header line."""

from __future__ import annotations

import select
import socket


def exchange(address: tuple[str, int], *parts: bytes) -> bytes:
    """Send parts one write each, stopping once the server answers; return the answer.

    The answer is read as soon as it is there: a server that closes with request bytes still
    unread resets the connection, and a reset can discard an answer not yet read.
    """
    chunks: list[bytes] = []
    with socket.create_connection(address, timeout=10) as conn:
        for part in parts:
            if select.select([conn], [], [], 0.01)[0]:
                break  # an answer (or a close) came before the rest was sent
            try:
                conn.sendall(part)
            except OSError:
                break
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
                if _complete(b"".join(chunks)):
                    break
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def _complete(answer: bytes) -> bool:
    """True once answer holds a head and as much body as its Content-Length says."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return bool(sep) and len(body) >= int(line.split(b":")[1])
    return False


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    """The status code and body of a raw HTTP/1.1 answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
