"""The calling side of the signed exchange, on aiohttp's client.

aiohttp rather than httpx for node-to-node calls: on this project's 2-core machine httpx's
async client answered 440-1,700 round trips/s against aiohttp's ~8,000 (docs/adr/0003).
Every request is signed; every response must be signed by the peer that was called and bound
to the request, or the call fails with ExchangeError.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from digitalstate.exchange.bounded import AnswerTooLargeError, parse_json, read_bounded
from digitalstate.exchange.digest import content_digest
from digitalstate.exchange.fields import collect_fields
from digitalstate.exchange.legal_ground import BASIS_HEADER, CONSENT_HEADER, PURPOSE_HEADER
from digitalstate.exchange.server import new_nonce
from digitalstate.exchange.signatures import HttpMessage, request_components, sign_message
from digitalstate.exchange.verification import verify_response
from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.problems import Problem, ReceivedProblem, failure_reason, read_problem

LABEL = "sig1"
MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The most of an answer read where a call names no bound of its own ([exchange]
max_answer_bytes in a node)."""
KEEPALIVE_SECONDS = 3.0


class ExchangeError(Exception):
    """A call that could not be made or whose answer cannot be trusted."""

    def __init__(self, detail: str, problem: ReceivedProblem | None = None) -> None:
        super().__init__(detail)
        self.problem = problem


@dataclass(frozen=True)
class ExchangeResponse:
    """A verified response from a peer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (a ValueError when it is not JSON, or nested too deeply)."""
        return parse_json(self.body)

    def problem(self) -> ReceivedProblem | None:
        """The problem document the body holds, or None (whatever its content-type says)."""
        return read_problem(self.body)

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


class ExchangeClient:
    """Make signed calls to other members and verify their signed answers."""

    def __init__(
        self,
        member_id: str,
        key: KeyPair,
        federation: Callable[[], FederationDocument],
        *,
        connections: int = 64,
        timeout: float = 10.0,
        skew: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.member_id = member_id
        self.key = key
        self.federation = federation
        self.skew = skew
        self.max_answer_bytes = max_answer_bytes
        self.clock = clock
        self._connections = connections
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ExchangeClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._connections,
                    limit_per_host=self._connections,
                    # Close idle connections before the peer does (uvicorn: after 5 s), so a
                    # call after a quiet spell never goes out on a socket already closed.
                    keepalive_timeout=KEEPALIVE_SECONDS,
                ),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def sign_request(
        self, method: str, url: str, body: bytes, extra: Mapping[str, str]
    ) -> dict[str, str]:
        """The headers that sign a request to url with body."""
        headers = {"content-digest": content_digest(body), **extra}
        message = HttpMessage(headers, method=method, target_uri=url)
        sig_input, signature = sign_message(
            message,
            request_components(headers),
            key=self.key,
            keyid=self.member_id,
            created=int(self.clock()),
            nonce=new_nonce(),
            label=LABEL,
        )
        headers["signature-input"] = sig_input
        headers["signature"] = signature
        return headers

    async def call(
        self,
        peer: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        purpose: str | None = None,
        consent: str | None = None,
        basis: str | None = None,
        max_bytes: int | None = None,
    ) -> ExchangeResponse:
        """Call path on member peer; return its verified response (any status).

        max_bytes bounds the answer's body: a longer one (by its content-length or as read) is
        an ExchangeError, read no further than max_bytes + 1. None bounds it at the client's
        max_answer_bytes: a member's answers to our own calls are small by construction, but
        an answer is read before its signature says who sent it.
        """
        try:
            federation = self.federation()
        except Problem as exc:
            raise ExchangeError(exc.detail) from exc
        member = federation.member(peer)
        if member is None or member.revoked_at is not None:
            raise ExchangeError(f"{peer} is not a current member of {federation.federation}")
        url = member.base_url + path
        body = b"" if json_body is None else json.dumps(json_body).encode()
        extra: dict[str, str] = {}
        if json_body is not None:
            extra["content-type"] = "application/json"
        for header, value in (
            (PURPOSE_HEADER, purpose),
            (CONSENT_HEADER, consent),
            (BASIS_HEADER, basis),
        ):
            if value is not None:
                extra[header] = value
        headers = self.sign_request(method, url, body, extra)
        request = HttpMessage(headers, method=method, target_uri=url)
        try:
            async with self._http().request(
                method, _parsed_url(url), data=body or None, headers=headers
            ) as answer:
                payload = await _bounded(
                    answer, self.max_answer_bytes if max_bytes is None else max_bytes, peer
                )
                received = answer.headers  # case-insensitive, for the caller
                fields, repeated = collect_fields(answer.raw_headers)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ExchangeError(
                f"{peer} at {member.base_url} did not answer: {failure_reason(exc)}"
            ) from exc
        response = HttpMessage(fields, status=status, repeated=repeated)
        try:
            verify_response(
                response,
                payload,
                request,
                LABEL,
                expected_signer=peer,
                keys=federation.keys_for,
                now=self.clock(),
                skew=self.skew,
            )
        except Problem as exc:
            problem = read_problem(payload, received.get("content-type", ""))
            if problem is not None:
                # A node refuses an unverifiable call without signing the refusal; say what
                # it claims went wrong, and that the claim itself is unproven.
                raise ExchangeError(
                    f"{peer} answered {status} {problem.type}: {problem.detail} "
                    f"(an answer that cannot be trusted: {exc.detail})",
                    problem,
                ) from exc
            raise ExchangeError(
                f"the answer from {peer} cannot be trusted: {exc.detail}", problem
            ) from exc
        return ExchangeResponse(status, received, payload)


async def _bounded(answer: aiohttp.ClientResponse, max_bytes: int, peer: str) -> bytes:
    try:
        return await read_bounded(answer, max_bytes)
    except AnswerTooLargeError as exc:
        raise ExchangeError(f"{peer} {exc}") from exc


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> URL:
    # Cached: a node calls the same few peer URLs over and over; parsing one costs ~5 us.
    return URL(url, encoded=True)
