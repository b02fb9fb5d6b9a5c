"""The exchange middleware refuses hostile signature headers before reading the body or any crypto.

In-process ASGI: SignedExchangeMiddleware in front of an app that answers 200, called with a
scope made here, so that a header can be sent twice (as two header lines) and the test can see
whether the body was read and whether the app ran.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from exchange_support import BOB, NOW, SKEW, MemoryNonceStore, lookup, signed_request
from starlette.types import Message, Receive, Scope, Send

from digitalstate.exchange.digest import content_digest
from digitalstate.exchange.server import SignedExchangeMiddleware
from digitalstate.exchange.signatures import HttpMessage, response_components, sign_message
from digitalstate.exchange.verification import verify_response
from digitalstate.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, Problem

TARGET = "https://bob.example/exchange/v1/records/read"
BODY = b'{"person": "pseudonym-42"}'


@dataclass
class Outcome:
    """What one call through the middleware did."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_read: bool = False
    app_ran: bool = False
    app_saw: list[tuple[bytes, bytes]] = field(default_factory=list)

    def problem_type(self) -> str:
        """The problem's type, checking that the answer is a problem document."""
        assert self.headers["content-type"] == PROBLEM_MEDIA_TYPE
        return str(json.loads(self.body)["type"]).removeprefix(PROBLEM_BASE)


def call(header_lines: list[tuple[str, str]], body: bytes = BODY) -> Outcome:
    """Send one request with exactly these header lines through the middleware."""
    outcome = Outcome()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        outcome.app_ran = True
        outcome.app_saw = list(scope["headers"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Message:
        outcome.body_read = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            outcome.status = message["status"]
            outcome.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            outcome.body += message.get("body", b"")

    middleware = SignedExchangeMiddleware(
        app,
        member_id="bob.example",
        key=BOB,
        base_url="https://bob.example",
        keys=lambda: lookup,
        nonces=MemoryNonceStore(),
        skew=SKEW,
        max_body_bytes=1 << 20,
        clock=lambda: NOW,
    )
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/exchange/v1/records/read",
        "raw_path": b"/exchange/v1/records/read",
        "query_string": b"",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in header_lines],
    }
    asyncio.run(middleware(scope, receive, send))
    return outcome


def signed_lines(headers: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The header lines of a request alice signs for bob, one line per header."""
    message = signed_request(target_uri=TARGET, body=BODY, headers=headers)
    return list(message.headers.items())


def replaced(lines: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    """lines with the value of one header replaced."""
    return [(k, value if k == name else v) for k, v in lines]


def test_a_signed_request_passes_the_middleware() -> None:
    outcome = call(signed_lines())
    assert (outcome.status, outcome.app_ran) == (200, True)


def many_params(count: int) -> str:
    """A Signature-Input with count parameters, the shape of the review's attack."""
    return 'sig1=("@method" "@target-uri" "content-digest");' + ";".join(
        f"p{i}={i}" for i in range(count)
    )


@pytest.mark.parametrize("name", ["signature-input", "content-digest", "signature"])
def test_a_32000_parameter_header_gets_431_before_the_body_is_read(name: str) -> None:
    hostile = many_params(32_000) if name != "content-digest" else many_params(32_000)[5:]
    outcome = call(replaced(signed_lines(), name, hostile))
    assert outcome.status == 431
    assert outcome.problem_type() == "header-too-large"
    assert json.loads(outcome.body)["header"].lower() == name
    assert not outcome.body_read and not outcome.app_ran


def test_too_many_parameters_within_the_length_get_431() -> None:
    outcome = call(replaced(signed_lines(), "signature-input", many_params(200)[:4000]))
    assert outcome.status == 431
    assert outcome.problem_type() == "header-too-large"
    assert not outcome.app_ran


@pytest.mark.parametrize("name", ["signature-input", "signature", "content-digest"])
def test_a_signature_or_digest_header_sent_twice_is_refused(name: str) -> None:
    lines = signed_lines()
    value = dict(lines)[name]
    outcome = call([*lines, (name, value)])
    assert outcome.status == 400
    assert outcome.problem_type() == "repeated-covered-field"
    assert not outcome.body_read and not outcome.app_ran


def test_a_covered_header_sent_twice_is_refused_although_the_joined_value_is_signed() -> None:
    # A member signs the purpose "benefits, fraud-check" and sends it as two lines: the
    # signature covers the joined value, while a route reads the first line alone.
    lines = signed_lines({"digitalstate-purpose": "benefits, fraud-check"})
    split = [(k, v) for k, v in lines if k != "digitalstate-purpose"]
    split += [("digitalstate-purpose", "benefits"), ("digitalstate-purpose", "fraud-check")]
    outcome = call(split)
    assert outcome.status == 400
    assert outcome.problem_type() == "repeated-covered-field"
    assert json.loads(outcome.body)["header"] == "digitalstate-purpose"
    assert not outcome.app_ran


def test_a_header_the_signature_does_not_cover_may_repeat() -> None:
    outcome = call([*signed_lines(), ("accept", "application/json"), ("accept", "text/plain")])
    assert (outcome.status, outcome.app_ran) == (200, True)


def _signed_answer(request: HttpMessage, digest: str) -> dict[str, str]:
    answer = HttpMessage({"content-digest": digest}, status=200)
    sig_input, signature = sign_message(
        answer, response_components("sig1"), key=BOB, keyid="bob.example", created=NOW,
        request=request,
    )  # fmt: skip
    return {"content-digest": digest, "signature-input": sig_input, "signature": signature}


def test_an_answer_that_repeats_its_digest_is_refused_by_the_caller() -> None:
    request = signed_request(target_uri=TARGET, body=BODY)
    headers = _signed_answer(request, content_digest(b"{}"))
    answer = HttpMessage(headers, status=200, repeated=frozenset({"content-digest"}))
    with pytest.raises(Problem) as refused:
        verify_response(
            answer, b"{}", request, "sig1", expected_signer="bob.example", keys=lookup,
            now=NOW, skew=SKEW,
        )  # fmt: skip
    assert refused.value.slug == "repeated-covered-field"


def test_an_answer_with_an_oversized_signature_input_is_refused_by_the_caller() -> None:
    request = signed_request(target_uri=TARGET, body=BODY)
    headers = _signed_answer(request, content_digest(b"{}"))
    headers["signature-input"] = many_params(32_000)
    with pytest.raises(Problem) as refused:
        verify_response(
            HttpMessage(headers, status=200), b"{}", request, "sig1",
            expected_signer="bob.example", keys=lookup, now=NOW, skew=SKEW,
        )  # fmt: skip
    assert refused.value.slug == "header-too-large"
