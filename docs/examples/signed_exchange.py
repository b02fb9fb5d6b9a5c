"""Print a worked example of one signed request and its signed response (docs/exchange.md).

Everything is fixed (key seeds, times, nonce, bodies), so the output is the same on every run.
The signing and checking are done by the project's own code, exactly as a node does them.
tests/unit/test_docs.py runs this script and checks that docs/exchange.md shows its output.

Usage: .venv/bin/python docs/examples/signed_exchange.py
"""

from __future__ import annotations

from datetime import UTC, datetime

from digitalstate.exchange.digest import content_digest
from digitalstate.exchange.replay import NonceCache
from digitalstate.exchange.signatures import (
    HttpMessage,
    parse_signatures,
    request_components,
    response_components,
    sign_message,
    signature_base,
)
from digitalstate.exchange.verification import verify_request, verify_response
from digitalstate.federation.domain import FederationDocument, Member, MemberKey
from digitalstate.keys import KeyPair

# Example keys only: never use a key whose seed is published.
CALLER_SEED = bytes(range(32))
PEER_SEED = bytes(range(32, 64))
CALLER = KeyPair.from_seed(CALLER_SEED)
PEER = KeyPair.from_seed(PEER_SEED)

CALLER_ID = "newcastle-tax"
PEER_ID = "people-register"
PEER_URL = "http://127.0.0.1:8102"
CREATED = 1_767_225_600  # 2026-01-01T00:00:00Z
NONCE = "3q2-7wbRk9VfQzYt1LxPcA"
SKEW = 60

RESPONSE_BODY = (
    b'{"member": "people-register", "services": [{"method": "GET", '
    b'"path": "/exchange/v1/services", "summary": "List what this node offers over the '
    b'exchange, and which calls touch personal data.", "personal_data": false}]}'
)

GROUND_URL = PEER_URL + "/exchange/v1/example/address"
GROUND_BODY = b'{"fields": ["people.address"]}'
GROUND_HEADERS = {
    "content-type": "application/json",
    "digitalstate-purpose": "tax-administration",
    "digitalstate-basis": "tax-address-update",
}
GROUND_NONCE = "Jm4vX0cRq8sT2wYhN5kLbg"


def federation() -> FederationDocument:
    """A federation document that lists both members, as the trust anchor would publish it."""
    since = datetime(2025, 12, 1, tzinfo=UTC)

    def member(member_id: str, key: KeyPair) -> Member:
        return Member(
            id=member_id,
            name=member_id,
            roles=("register", "service"),
            base_url=PEER_URL if member_id == PEER_ID else "http://127.0.0.1:8104",
            keys=(MemberKey(public_key=key.public.b64, not_before=since),),
        )

    return FederationDocument(
        federation="digitalstate demo federation",
        version=12,
        issued_at=since,
        expires_at=datetime(2026, 1, 2, tzinfo=UTC),
        members=(member(CALLER_ID, CALLER), member(PEER_ID, PEER)),
    )


def http_text(start: str, headers: dict[str, str], body: bytes) -> str:
    """A message as it goes over HTTP/1.1 (header names as this project writes them)."""
    lines = [start, *(f"{name}: {value}" for name, value in headers.items())]
    text = "\n".join(lines)
    return text + ("\n\n" + body.decode() if body else "")


def sign_request(
    method: str, url: str, body: bytes, extra: dict[str, str], nonce: str
) -> HttpMessage:
    """Sign a request as ExchangeClient.sign_request does, with a fixed time and nonce."""
    headers = {"content-digest": content_digest(body), **extra}
    unsigned = HttpMessage(headers, method=method, target_uri=url)
    signature_input, signature = sign_message(
        unsigned,
        request_components(headers),
        key=CALLER,
        keyid=CALLER_ID,
        created=CREATED,
        nonce=nonce,
        label="sig1",
    )
    headers |= {"signature-input": signature_input, "signature": signature}
    return HttpMessage(headers, method=method, target_uri=url)


def base_of(message: HttpMessage, request: HttpMessage | None = None) -> str:
    """The signature base the receiver rebuilds from a signed message."""
    (sig,) = parse_signatures(message.headers["signature-input"], message.headers["signature"])
    return signature_base(sig.components, sig.params, message, request).decode("ascii")


def sections() -> dict[str, str]:
    """Every part of the worked example, by the name docs/exchange.md gives it."""
    doc = federation()
    out: dict[str, str] = {
        "keys": "\n".join(
            [
                f"{CALLER_ID} seed (hex):   {CALLER_SEED.hex()}",
                f"{CALLER_ID} public key:   {CALLER.public.b64}",
                f"{PEER_ID} seed (hex): {PEER_SEED.hex()}",
                f"{PEER_ID} public key: {PEER.public.b64}",
            ]
        )
    }

    # 1. newcastle-tax asks people-register what it offers.
    url = PEER_URL + "/exchange/v1/services"
    request = sign_request("GET", url, b"", {}, NONCE)
    request_headers = {"host": "127.0.0.1:8102", **request.headers}
    out["request"] = http_text("GET /exchange/v1/services HTTP/1.1", request_headers, b"")
    out["request-signature-base"] = base_of(request)
    verified = verify_request(
        request, b"", keys=doc.keys_for, nonces=NonceCache(2 * SKEW), now=CREATED + 1, skew=SKEW
    )
    out["request-check"] = f"request verified: signed by {verified.member_id}"

    # 2. people-register answers, binding its signature to the request's (as the middleware).
    digest = content_digest(RESPONSE_BODY)
    unsigned = HttpMessage({"content-digest": digest}, status=200)
    signature_input, signature = sign_message(
        unsigned,
        response_components(verified.signature.label),
        key=PEER,
        keyid=PEER_ID,
        created=CREATED + 1,
        request=request,
    )
    response_headers = {
        "content-type": "application/json",
        "content-digest": digest,
        "content-length": str(len(RESPONSE_BODY)),
        "signature-input": signature_input,
        "signature": signature,
    }
    response = HttpMessage(response_headers, status=200)
    out["response"] = http_text("HTTP/1.1 200 OK", response_headers, RESPONSE_BODY)
    out["response-signature-base"] = base_of(response, request)
    verify_response(
        response,
        RESPONSE_BODY,
        request,
        "sig1",
        expected_signer=PEER_ID,
        keys=doc.keys_for,
        now=CREATED + 1,
        skew=SKEW,
    )
    out["response-check"] = f"response verified: signed by {PEER_ID} and bound to sig1"

    # 3. The same caller names a purpose and a statutory basis: both headers are covered.
    ground = sign_request("POST", GROUND_URL, GROUND_BODY, GROUND_HEADERS, GROUND_NONCE)
    out["ground-request"] = http_text(
        "POST /exchange/v1/example/address HTTP/1.1",
        {"host": "127.0.0.1:8102", "content-length": str(len(GROUND_BODY)), **ground.headers},
        GROUND_BODY,
    )
    out["ground-signature-base"] = base_of(ground)
    return out


def main() -> None:
    """Print every section under a '--- name ---' line."""
    for name, text in sections().items():
        print(f"--- {name} ---")
        print(text)


if __name__ == "__main__":
    main()
