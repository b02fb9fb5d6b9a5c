"""The receiving side of the signed exchange, as plain ASGI middleware.

Pure ASGI rather than Starlette's BaseHTTPMiddleware: this runs on every node-to-node call and
the benchmark showed the extra task and queue per request of BaseHTTPMiddleware cost more than
the signature itself. For paths under the exchange prefix it:

1. refuses repeated or oversized signature and digest headers (400, 431), then reads the body
   up to the size limit (413 past it, before reading more);
2. verifies the request signature, digest, clock skew, nonce and key (401 problem+json);
3. hands the call on with the verified member id in ``scope["state"]["exchange_member"]``;
4. signs the response, binding it to the request's signature (RFC 9421 §2.4).

A route on the federation's hot path may also be registered as a direct call
(``DirectCalls``): once the request is verified, its handler gets the headers and body read
here and answers without the app's inner middleware, router and dependency machinery
(docs/benchmarks.md). It may decline a call (return None), which then goes through the app as
any other, so that everything unusual is answered by the one full path.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digitalstate.exchange.digest import content_digest
from digitalstate.exchange.fields import collect_fields
from digitalstate.exchange.signatures import (
    HttpMessage,
    KeyLookup,
    response_components,
    sign_message,
)
from digitalstate.exchange.verification import (
    check_signed_fields,
    nonce_expiry,
    replayed_nonce,
    verify_request,
)
from digitalstate.keys import KeyPair
from digitalstate.problems import PROBLEM_MEDIA_TYPE, Problem

log = logging.getLogger(__name__)

EXCHANGE_PREFIX = "/exchange/"
MEMBER_STATE_KEY = "exchange_member"
JSON_CONTENT = (b"content-type", b"application/json")


INTERNAL_ERROR = Problem(
    "internal-error", "the node could not complete this request; it has been logged"
)


def problem_body(problem: Problem, instance: str | None = None) -> bytes:
    """The JSON bytes of a problem document."""
    return json.dumps(problem.to_dict(instance)).encode()


class _BodyTooLargeError(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class DirectCall:
    """A verified exchange call as a direct handler gets it."""

    member_id: str
    headers: dict[str, str]
    repeated: frozenset[str]
    body: bytes


DirectHandler = Callable[[DirectCall], Awaitable[bytes | None]]
"""Answer a call with a JSON body (200), raise Problem, or return None to decline it."""
DirectCalls = dict[tuple[str, str], DirectHandler]
"""Direct handlers by method and path."""


def direct_calls(state: Any) -> DirectCalls:
    """The direct calls table kept on an app's state (made at the first call)."""
    table: DirectCalls | None = getattr(state, "direct_exchange_calls", None)
    if table is None:
        table = state.direct_exchange_calls = {}
    return table


class NonceStore(Protocol):
    """Where accepted nonces are kept (the node's database: SqlNonceStore)."""

    async def remember(self, keyid: str, nonce: str, expires_at: int) -> bool:
        """True when (keyid, nonce) is new and now kept until expires_at; False on a replay."""
        ...


class SignedExchangeMiddleware:
    """Verify signed requests and sign responses on every exchange path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        member_id: str,
        key: KeyPair,
        base_url: str,
        keys: Callable[[], KeyLookup],
        nonces: NonceStore,
        skew: float,
        max_body_bytes: int,
        clock: Callable[[], float] = time.time,
        direct: DirectCalls | None = None,
    ) -> None:
        self.app = app
        self.member_id = member_id
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.nonces = nonces
        self.skew = skew
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.direct = direct if direct is not None else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(EXCHANGE_PREFIX):
            await self.app(scope, receive, send)
            return
        headers, repeated = collect_fields(scope["headers"])
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = self.base_url + raw_path.decode("latin-1")
        if query:
            target += "?" + query.decode("latin-1")
        request = HttpMessage(headers, method=scope["method"], target_uri=target, repeated=repeated)
        label: str | None = None
        try:
            check_signed_fields(request)  # before the body is read: no parsing, no crypto
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                raise _BodyTooLargeError
            body = await _read_body(receive, self.max_body_bytes)
            verified = verify_request(
                request,
                body,
                keys=self.keys(),
                nonces=None,
                now=self.clock(),
                skew=self.skew,
            )
            label = verified.signature.label
            # Only once the signature verifies, so forged calls cannot fill the store.
            expires_at = nonce_expiry(verified.created, self.skew)
            if not await self.nonces.remember(verified.member_id, verified.nonce, expires_at):
                raise replayed_nonce(verified.member_id, verified.nonce)
        except _BodyTooLargeError:
            problem = Problem(
                "body-too-large",
                f"this node accepts bodies of at most {self.max_body_bytes} bytes",
                {"limit_bytes": self.max_body_bytes},
            )
            await self._send_problem(send, problem, scope["path"], request, None)
            return
        except Problem as problem:
            await self._send_problem(send, problem, scope["path"], request, label)
            return
        handler = self.direct.get((scope["method"], scope["path"]))
        if handler is not None:
            call = DirectCall(verified.member_id, headers, repeated, body)
            try:
                answer = await handler(call)
            except Problem as problem:
                await self._send_problem(send, problem, scope["path"], request, label)
                return
            except Exception:  # answered as the app's own handler answers it (problem_handlers)
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                await self._send_problem(send, INTERNAL_ERROR, scope["path"], request, label)
                return
            if answer is not None:
                out = self._sign(200, [JSON_CONTENT], answer, request, label)
                await send({"type": "http.response.start", "status": 200, "headers": out})
                await send({"type": "http.response.body", "body": answer})
                return
        scope.setdefault("state", {})[MEMBER_STATE_KEY] = verified.member_id
        await self.app(scope, _replay(body, receive), self._signing_send(send, request, label))

    def _sign(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        request: HttpMessage,
        label: str | None,
    ) -> list[tuple[bytes, bytes]]:
        digest = content_digest(body)
        out = [
            (k, v) for k, v in headers if k.lower() not in (b"content-digest", b"content-length")
        ]
        out.append((b"content-digest", digest.encode()))
        out.append((b"content-length", str(len(body)).encode()))
        if label is None:
            return out
        response = HttpMessage({"content-digest": digest}, status=status)
        sig_input, signature = sign_message(
            response,
            response_components(label),
            key=self.key,
            keyid=self.member_id,
            created=int(self.clock()),
            request=request,
        )
        out.append((b"signature-input", sig_input.encode()))
        out.append((b"signature", signature.encode()))
        return out

    def _signing_send(self, send: Send, request: HttpMessage, label: str | None) -> Send:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def signing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = self._sign(
                start["status"], list(start.get("headers", [])), body, request, label
            )
            await send(
                {"type": "http.response.start", "status": start["status"], "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})

        return signing_send

    async def _send_problem(
        self, send: Send, problem: Problem, path: str, request: HttpMessage, label: str | None
    ) -> None:
        body = problem_body(problem, path)
        headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode())]
        if problem.status == 401:
            headers.append((b"www-authenticate", b'Signature realm="digitalstate"'))
        headers = self._sign(problem.status, headers, body, request, label)
        await send({"type": "http.response.start", "status": problem.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """Give the app the body already read, then the real channel (for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def new_nonce() -> str:
    """A fresh random nonce for a signature."""
    return secrets.token_urlsafe(16)
