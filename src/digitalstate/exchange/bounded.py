"""Another server's answer read up to a bound: a body from outside is never read whole on trust.

The one reader of an aiohttp answer's body for every caller that reads one from another node
or the trust anchor (the exchange client, the witness's log source, the node's fetch of the
federation document). It refuses an answer whose Content-Length already says it is too long
before reading any of it, and otherwise reads at most one byte past the bound.
"""

from __future__ import annotations

import aiohttp


class AnswerTooLargeError(ValueError):
    """An answer longer than the bound; `announced` is its Content-Length when that said so."""

    def __init__(self, max_bytes: int, announced: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.announced = announced
        super().__init__(
            f"answered more than the {max_bytes} bytes allowed"
            if announced is None
            else f"answered {announced} bytes, more than the {max_bytes} allowed"
        )


async def read_bounded(answer: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The answer's body, or AnswerTooLargeError when it is longer than max_bytes."""
    if answer.content_length is not None and answer.content_length > max_bytes:
        raise AnswerTooLargeError(max_bytes, answer.content_length)
    body = bytearray()
    while True:
        chunk = await answer.content.read(max_bytes + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise AnswerTooLargeError(max_bytes)
