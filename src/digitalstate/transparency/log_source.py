"""A member's log read through its public routes over HTTP: the one LogSource that the witness
(witness_service.py) and `digitalstate log verify` (auditor.py) read other nodes' logs with.

Each answer is read up to a bound (the most leaf hashes one request may ask for, and some);
what goes wrong is one of the rolling audit's SourceErrors, with the node's problem type and
detail when it answered with one, so that each caller can say what it means to it.
"""

from __future__ import annotations

import base64
from typing import Any

import aiohttp

from digitalstate.exchange.bounded import AnswerTooLargeError, parse_json, read_bounded
from digitalstate.problems import failure_reason, read_problem
from digitalstate.transparency.rolling_audit import (
    MAX_LEAVES_PER_REQUEST,
    SourceDamagedError,
    SourceMalformedError,
    SourceUnavailableError,
)
from digitalstate.transparency.service import CHECKPOINT_PATH, LOG_PATH

MAX_ANSWER_BYTES = MAX_LEAVES_PER_REQUEST * 32 + 64 * 1024
MAX_DETAIL_CHARS = 300
"""The most of a problem's detail kept in an error."""


class HttpLogSource:
    """A member's log read through its public routes (a LogSource)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def checkpoint(self) -> str:
        """GET /.well-known/digitalstate/checkpoint."""
        body = await self._get(CHECKPOINT_PATH, {})
        try:
            return body.decode()
        except UnicodeDecodeError as exc:
            raise SourceMalformedError("its checkpoint is not UTF-8 text") from exc

    async def consistency(self, old: int, new: int) -> list[bytes]:
        """GET .../log/consistency?old=&new=: the proof's hashes."""
        body = await self._get(LOG_PATH + "/consistency", {"old": old, "new": new})
        try:
            proof = parse_json(body)["proof"]
            hashes = [_b64(item) for item in proof]
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceMalformedError(
                f"its consistency proof from {old} to {new} cannot be read"
            ) from exc
        return hashes

    async def leaves(self, start: int, end: int) -> list[bytes]:
        """GET .../log/leaves?start=&end=: 32 bytes per leaf."""
        body = await self._get(LOG_PATH + "/leaves", {"start": start, "end": end})
        if len(body) % 32:
            raise SourceMalformedError(
                f"its leaf hashes of [{start}, {end}) are {len(body)} bytes, not 32 each"
            )
        if len(body) != 32 * (end - start):
            # It signed a tree holding these leaves and no longer serves them all.
            raise SourceDamagedError(
                f"asked for the {end - start} leaf hashes of [{start}, {end}), it served "
                f"{len(body) // 32}"
            )
        return [body[i : i + 32] for i in range(0, len(body), 32)]

    async def _get(self, path: str, params: dict[str, int]) -> bytes:
        url = self.base_url + path
        try:
            async with self.http.get(url, params=params, allow_redirects=False) as answer:
                body = await _read_bounded(answer)
                status = answer.status
                media_type = answer.headers.get("content-type", "")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SourceUnavailableError(f"{url} did not answer: {failure_reason(exc)}") from exc
        if status == 200:
            return body
        problem = read_problem(body, media_type)
        slug = "" if problem is None else problem.slug
        detail = "" if problem is None else (problem.detail or "")[:MAX_DETAIL_CHARS]
        said = f"{url} answered {status}" + (f" {slug}: {detail}" if slug else "")
        if slug == "log-damaged" or (slug == "proof-out-of-range" and path != CHECKPOINT_PATH):
            # It signed a tree it now cannot serve: its stored log no longer holds what it did.
            raise SourceDamagedError(said, slug=slug, detail=detail)
        raise SourceUnavailableError(said, slug=slug, detail=detail)


async def _read_bounded(answer: aiohttp.ClientResponse) -> bytes:
    try:
        return await read_bounded(answer, MAX_ANSWER_BYTES)
    except AnswerTooLargeError as exc:
        raise SourceMalformedError(f"its answer is larger than {MAX_ANSWER_BYTES} bytes") from exc


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("a proof hash is not a string")
    digest = base64.b64decode(value, validate=True)
    if len(digest) != 32:
        raise ValueError("a proof hash is not 32 bytes")
    return digest
