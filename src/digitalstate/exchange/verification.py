"""The federation's acceptance rules for a signed request or response.

A receiver accepts a request only when it carries a signature that covers the required
components, was created within the allowed clock skew, carries a fresh nonce, and verifies
with a key the current federation document lists for the signer at that time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from digitalstate.exchange.digest import check_content_digest
from digitalstate.exchange.fields import check_field_length
from digitalstate.exchange.replay import NonceCache
from digitalstate.exchange.signatures import (
    GROUND_HEADERS,
    REQUEST_COMPONENTS,
    RESPONSE_COMPONENTS,
    HttpMessage,
    KeyLookup,
    Signature,
    parse_signatures,
    verify_signature,
)
from digitalstate.problems import Problem

MAX_NONCE_LENGTH = 128
# The fields every signed message of this profile carries, checked before anything is parsed.
SIGNED_FIELDS: tuple[str, ...] = ("signature-input", "signature", "content-digest")


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """A request that passed every check: who sent it and which signature proves it."""

    member_id: str
    signature: Signature
    nonce: str
    created: int


def _repeated(name: str) -> Problem:
    return Problem(
        "repeated-covered-field",
        f"the {name} header is sent more than once; a signed field must be sent once",
        {"header": name},
    )


def check_signed_fields(message: HttpMessage) -> None:
    """Refuse a message whose signature or digest fields repeat or pass their bounds.

    Cheap (a few lookups, no parsing), so the receiver runs it before it reads the body.
    """
    for name in SIGNED_FIELDS:
        if name in message.repeated:
            raise _repeated(name)
        check_field_length(name, message.headers.get(name))


def _refuse_repeated_components(
    sig: Signature, message: HttpMessage, request: HttpMessage | None = None
) -> None:
    # A repeated covered field is signed as the joined value, while a route reads one of them.
    for component in sig.components:
        if component.name.startswith("@"):
            continue
        source = request if request is not None and component.param("req") is True else message
        if component.name in source.repeated:
            raise _repeated(component.name)


def _pick(signatures: list[Signature]) -> Signature:
    # Only one signature per message is part of this profile; more is ambiguous.
    if len(signatures) != 1:
        raise Problem("signature-malformed", "exactly one signature is expected")
    return signatures[0]


def _check_time(sig: Signature, now: float, skew: float) -> int:
    created = sig.created
    if created is None:
        raise Problem("signature-malformed", "the signature has no integer 'created' parameter")
    if abs(now - created) > skew:
        raise Problem(
            "clock-skew",
            f"signature created at {created}, this node's clock reads {int(now)}; "
            f"at most {int(skew)} s apart is accepted",
        )
    expires = sig.param("expires")
    if expires is not None:
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise Problem("signature-malformed", "the 'expires' parameter must be an integer")
        if expires < now:
            raise Problem("clock-skew", f"the signature expired at {expires}")
    return created


def verify_request(
    message: HttpMessage,
    body: bytes,
    *,
    keys: KeyLookup,
    nonces: NonceCache | None,
    now: float,
    skew: float,
) -> VerifiedRequest:
    """Apply every acceptance rule to a request; return its verified signer.

    nonces must remember a nonce for at least twice the skew: a signature created skew
    seconds ahead of this clock stays acceptable for 2 * skew seconds after it first arrives.
    With nonces None the caller checks the nonce itself (the node does, in its database).
    """
    if nonces is not None and nonces.ttl < 2 * skew:
        raise ValueError(
            f"the nonce cache forgets after {nonces.ttl} s; at least {2 * skew} needed"
        )
    check_signed_fields(message)
    sig = _pick(
        parse_signatures(message.headers.get("signature-input"), message.headers.get("signature"))
    )
    _refuse_repeated_components(sig, message)
    for name in REQUEST_COMPONENTS + tuple(h for h in GROUND_HEADERS if h in message.headers):
        if not sig.covers(name):
            raise Problem("signature-malformed", f"the signature must cover {name!r}")
    keyid = sig.keyid
    if not keyid:
        raise Problem("signature-malformed", "the signature has no 'keyid' parameter")
    nonce = sig.nonce
    if not nonce or len(nonce) > MAX_NONCE_LENGTH:
        raise Problem("signature-malformed", "the signature needs a 'nonce' of 1 to 128 characters")
    created = _check_time(sig, now, skew)
    check_content_digest(message.headers.get("content-digest"), body)
    public_key = keys(keyid, created)
    verify_signature(sig, message, public_key)
    # Remember the nonce only once the signature verifies, so forged calls cannot fill the cache.
    if nonces is not None and not nonces.check_and_remember(keyid, nonce, now):
        raise replayed_nonce(keyid, nonce)
    return VerifiedRequest(keyid, sig, nonce, created)


def replayed_nonce(keyid: str, nonce: str) -> Problem:
    """The problem for a nonce this node has already accepted from keyid."""
    return Problem(
        "replayed-nonce",
        f"nonce {nonce!r} from {keyid} was already used (or the replay cache is full)",
    )


def nonce_expiry(created: int, skew: float) -> int:
    """The Unix time after which the clock check alone refuses a signature made at created."""
    return created + math.ceil(skew)


def verify_response(
    message: HttpMessage,
    body: bytes,
    request: HttpMessage,
    request_label: str,
    *,
    expected_signer: str,
    keys: KeyLookup,
    now: float,
    skew: float,
) -> Signature:
    """Check that a response is signed by expected_signer and bound to request."""
    check_signed_fields(message)
    sig = _pick(
        parse_signatures(message.headers.get("signature-input"), message.headers.get("signature"))
    )
    _refuse_repeated_components(sig, message, request)
    for name in RESPONSE_COMPONENTS:
        if not sig.covers(name):
            raise Problem("signature-malformed", f"the response signature must cover {name!r}")
    bound = any(
        c.name == "signature" and c.param("req") is True and c.param("key") == request_label
        for c in sig.components
    )
    if not bound:
        raise Problem("signature-malformed", "the response signature is not bound to the request")
    if sig.keyid != expected_signer:
        raise Problem(
            "signature-invalid", f"the response is signed by {sig.keyid}, not {expected_signer}"
        )
    created = _check_time(sig, now, skew)
    check_content_digest(message.headers.get("content-digest"), body)
    verify_signature(sig, message, keys(expected_signer, created), request)
    return sig
