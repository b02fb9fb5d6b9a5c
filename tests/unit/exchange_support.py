"""Shared helpers for the signed-exchange unit tests: fixed keys, a key lookup, signed calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from digitalstate.exchange.digest import content_digest
from digitalstate.exchange.replay import NonceCache
from digitalstate.exchange.signatures import (
    HttpMessage,
    response_components,
    sign_message,
)
from digitalstate.exchange.signatures import (
    request_components as default_request_components,
)
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.problems import Problem

NOW = 1_750_000_000
SKEW = 60
ALICE = KeyPair.from_seed(bytes(range(32)))
BOB = KeyPair.from_seed(bytes(range(32, 64)))
MALLORY = KeyPair.from_seed(bytes(range(64, 96)))
MEMBERS: dict[str, KeyPair] = {"alice.example": ALICE, "bob.example": BOB}
TARGET = "https://bob.example/api/v1/records/lookup?kind=address"
BODY = b'{"person": "pseudonym-42"}'


def lookup(keyid: str, at: int) -> Sequence[PublicKey]:
    """A KeyLookup over MEMBERS that raises key-unknown like the federation document."""
    key = MEMBERS.get(keyid)
    if key is None:
        raise Problem("key-unknown", f"{keyid!r} is not a member")
    return [key.public]


def fresh_nonces() -> NonceCache:
    """A nonce cache sized to the skew window, as a node would make it."""
    return NonceCache(ttl_seconds=2 * SKEW)


class MemoryNonceStore:
    """The middleware's nonce store in memory, for in-process middleware tests (a node uses
    SqlNonceStore, in its database)."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def remember(self, keyid: str, nonce: str, expires_at: int) -> bool:
        """True the first time (keyid, nonce) is seen."""
        if (keyid, nonce) in self.seen:
            return False
        self.seen.add((keyid, nonce))
        return True


def with_headers(message: HttpMessage, **changes: str | None) -> HttpMessage:
    """A copy of message with headers changed (underscores become hyphens; None removes)."""
    headers = dict(message.headers)
    for name, value in changes.items():
        header = name.replace("_", "-")
        if value is None:
            headers.pop(header, None)
        else:
            headers[header] = value
    return HttpMessage(headers, message.method, message.target_uri, message.status)


def signed_request(
    *,
    key: KeyPair = ALICE,
    keyid: str = "alice.example",
    method: str = "POST",
    target_uri: str = TARGET,
    body: bytes = BODY,
    headers: Mapping[str, str] | None = None,
    created: int = NOW,
    nonce: str | None = "nonce-0001",
    label: str = "sig1",
) -> HttpMessage:
    """A request signed the way a node signs one (request_components over its headers)."""
    base_headers = {"content-type": "application/json", "content-digest": content_digest(body)}
    base_headers.update(headers or {})
    unsigned = HttpMessage(base_headers, method, target_uri)
    signature_input, signature = sign_message(
        unsigned,
        default_request_components(base_headers),
        key=key,
        keyid=keyid,
        created=created,
        nonce=nonce,
        label=label,
    )
    return with_headers(unsigned, signature_input=signature_input, signature=signature)


def signed_response(
    request: HttpMessage,
    *,
    key: KeyPair = BOB,
    keyid: str = "bob.example",
    status: int = 200,
    body: bytes = b'{"address": "1 Main Street"}',
    created: int = NOW,
    request_label: str = "sig1",
) -> HttpMessage:
    """A response signed by its node and bound to request's signature."""
    headers = {"content-type": "application/json", "content-digest": content_digest(body)}
    unsigned = HttpMessage(headers, status=status)
    signature_input, signature = sign_message(
        unsigned,
        response_components(request_label),
        key=key,
        keyid=keyid,
        created=created,
        request=request,
    )
    return with_headers(unsigned, signature_input=signature_input, signature=signature)
