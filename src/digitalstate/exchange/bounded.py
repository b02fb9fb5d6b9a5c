"""Another server's answer read up to a bound, and parsed: a body from outside is never read
whole on trust, nor parsed into an error that is not a ValueError.

The one reader of an aiohttp answer's body for every caller that reads one from another node
or the trust anchor (the exchange client, the witness's log source, the node's and `log
verify`'s fetch of the federation document, the token request of a node that signs people
in). It refuses an answer whose Content-Length already says it is too long
before reading any of it, and otherwise reads at most one byte past the bound. An answer
that is compressed is counted as decompressed, and is decompressed a step at a time.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

STEP_BYTES = 65_536
"""The most read from the answer at a time."""


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
        # In steps: asking aiohttp for max_bytes at once raises its buffer's limits to match,
        # and lets one step of decompression make that much (64 MiB held for a 16 MiB bound).
        chunk = await answer.content.read(min(STEP_BYTES, max_bytes + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise AnswerTooLargeError(max_bytes)


def parse_json(body: bytes) -> Any:
    """body parsed as JSON; a ValueError for anything else, including JSON nested deeper than
    the parser can go (json.loads raises RecursionError for that: "[" * 100_000)."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ValueError("the JSON is nested too deeply to read") from exc
