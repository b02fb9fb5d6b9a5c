"""Interoperability with an independent RFC 9421 implementation and with the RFC itself.

The independent implementation is the `http-message-signatures` package (PyPI), which reads
`requests`-like message objects: a request has `method`, `url` and `headers`; a response has
`status_code`, `headers` and the `request` it answers. The small classes below are all it needs.
"""

from __future__ import annotations

import base64
import datetime
import time
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from exchange_support import ALICE, BOB, MEMBERS, fresh_nonces, lookup
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from digitalstate.exchange.digest import content_digest
from digitalstate.exchange.signatures import (
    Component,
    HttpMessage,
    parse_signatures,
    request_components,
    response_components,
    sign_message,
    signature_base,
    verify_signature,
)
from digitalstate.exchange.structured import InnerList, Item, serialize_inner_list
from digitalstate.exchange.verification import verify_request, verify_response
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.problems import Problem

TARGET = "https://bob.example/api/v1/records/lookup?kind=address"
BODY = b'{"person": "pseudonym-42"}'
RESPONSE_BODY = b'{"address": "1 Main Street"}'


@dataclass
class LibRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LibResponse:
    status_code: int
    request: LibRequest
    headers: dict[str, str] = field(default_factory=dict)


def library_verifier() -> HTTPMessageVerifier:
    public = {
        member: Ed25519PublicKey.from_public_bytes(pair.public.raw)
        for member, pair in MEMBERS.items()
    }
    return HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys=public, private_keys={}),
    )


def library_signer() -> HTTPMessageSigner:
    private = {
        member: Ed25519PrivateKey.from_private_bytes(pair.seed())
        for member, pair in MEMBERS.items()
    }
    return HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys=private),
    )


def our_signed_request(headers: dict[str, str], created: int) -> HttpMessage:
    all_headers = {"content-digest": content_digest(BODY), **headers}
    unsigned = HttpMessage(all_headers, "POST", TARGET)
    signature_input, signature = sign_message(
        unsigned,
        request_components(all_headers),
        key=ALICE,
        keyid="alice.example",
        created=created,
        nonce="interop-nonce-1",
    )
    return HttpMessage(
        {**all_headers, "signature-input": signature_input, "signature": signature},
        "POST",
        TARGET,
    )


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


# --- (a) signed here, verified by the library ------------------------------------------------


@pytest.mark.parametrize(
    "ground", [{}, {"digitalstate-purpose": "benefit-eligibility", "digitalstate-basis": "s-12"}]
)
def test_a_request_signed_here_verifies_with_the_independent_library(
    ground: dict[str, str],
) -> None:
    request = our_signed_request({"content-type": "application/json", **ground}, int(time.time()))
    results = library_verifier().verify(
        LibRequest("POST", TARGET, dict(request.headers)),
        require_components=("@method", "@target-uri", "content-digest", *ground),
        body=BODY,
    )
    (result,) = results
    assert result.label == "sig1"
    assert result.parameters["keyid"] == "alice.example"
    assert result.parameters["alg"] == "ed25519"
    assert result.nonce == "interop-nonce-1"
    assert result.body == BODY


def test_the_library_refuses_a_request_signed_here_and_then_changed() -> None:
    request = our_signed_request({}, int(time.time()))
    moved = LibRequest("POST", TARGET.replace("address", "income"), dict(request.headers))
    with pytest.raises(InvalidSignature):
        library_verifier().verify(moved)


def test_a_response_signed_here_verifies_with_the_library_including_its_binding() -> None:
    now = int(time.time())
    request = our_signed_request({}, now)
    headers = {"content-digest": content_digest(RESPONSE_BODY)}
    signature_input, signature = sign_message(
        HttpMessage(headers, status=200),
        response_components("sig1"),
        key=BOB,
        keyid="bob.example",
        created=now,
        request=request,
    )
    lib_request = LibRequest("POST", TARGET, dict(request.headers))
    response = LibResponse(
        200, lib_request, {**headers, "signature-input": signature_input, "signature": signature}
    )
    (result,) = library_verifier().verify(
        response,
        require_components=('"signature";req;key="sig1"', "@status", "content-digest"),
        body=RESPONSE_BODY,
    )
    assert result.parameters["keyid"] == "bob.example"
    # Bound to the request: the same response does not verify against another request.
    other = our_signed_request({"digitalstate-purpose": "x"}, now)
    response.request = LibRequest("POST", TARGET, dict(other.headers))
    with pytest.raises(InvalidSignature):
        library_verifier().verify(response)


# --- (b) signed by the library, verified here ------------------------------------------------


def library_signed_request(created: int, nonce: str) -> LibRequest:
    request = LibRequest("POST", TARGET, {"Content-Type": "application/json"})
    library_signer().sign(
        request,
        key_id="alice.example",
        created=datetime.datetime.fromtimestamp(created, datetime.UTC),
        nonce=nonce,
        label="sig1",
        covered_component_ids=("@method", "@target-uri", "content-digest"),
        body=BODY,
    )
    return request


def test_a_request_signed_by_the_library_is_accepted_here() -> None:
    now = 1_750_000_000
    lib_request = library_signed_request(now, "library-nonce-1")
    message = HttpMessage(lower(lib_request.headers), lib_request.method, lib_request.url)
    verified = verify_request(
        message, BODY, keys=lookup, nonces=fresh_nonces(), now=now + 5, skew=60
    )
    assert verified.member_id == "alice.example"
    assert verified.signature.nonce == "library-nonce-1"


def test_a_request_signed_by_the_library_and_then_changed_is_refused_here() -> None:
    now = 1_750_000_000
    lib_request = library_signed_request(now, "library-nonce-2")
    message = HttpMessage(lower(lib_request.headers), "PUT", lib_request.url)
    with pytest.raises(Problem) as caught:
        verify_request(message, BODY, keys=lookup, nonces=fresh_nonces(), now=now, skew=60)
    assert caught.value.slug == "signature-invalid"


def test_a_response_signed_by_the_library_is_accepted_here_as_bound_to_its_request() -> None:
    now = 1_750_000_000
    request = our_signed_request({}, now)
    lib_request = LibRequest("POST", TARGET, dict(request.headers))
    response = LibResponse(200, lib_request)
    library_signer().sign(
        response,
        key_id="bob.example",
        created=datetime.datetime.fromtimestamp(now, datetime.UTC),
        label="sig1",
        covered_component_ids=("@status", "content-digest", '"signature";req;key="sig1"'),
        body=RESPONSE_BODY,
    )
    message = HttpMessage(lower(response.headers), status=200)
    sig = verify_response(
        message,
        RESPONSE_BODY,
        request,
        "sig1",
        expected_signer="bob.example",
        keys=lookup,
        now=now,
        skew=60,
    )
    assert sig.keyid == "bob.example"
    other = our_signed_request({"digitalstate-purpose": "x"}, now)
    with pytest.raises(Problem) as caught:
        verify_response(
            message,
            RESPONSE_BODY,
            other,
            "sig1",
            expected_signer="bob.example",
            keys=lookup,
            now=now,
            skew=60,
        )
    assert caught.value.slug == "signature-invalid"


@pytest.mark.parametrize(
    "target",
    [
        "https://bob.example/a/b?c=d&e=f",
        "https://BOB.example:443/a",
        "http://127.0.0.1:8001/api/v1/x?y=%20z",
        "https://[::1]:9000/",
    ],
)
def test_derived_components_agree_with_the_library(target: str) -> None:
    names = ("@method", "@authority", "@scheme", "@path", "@query", "@request-target")
    params = (("created", 1_750_000_000), ("keyid", "alice.example"))
    base = signature_base([Component(n) for n in names], params, HttpMessage({}, "GET", target))
    prepared = library_signer().prepare(
        LibRequest("GET", target),
        key_id="alice.example",
        created=datetime.datetime.fromtimestamp(1_750_000_000, datetime.UTC),
        include_alg=False,
        covered_component_ids=names,
    )
    assert base == prepared.signature_base


# --- (c) the RFC 9421 Appendix B.2.6 test vector ---------------------------------------------

# RFC 9421 Appendix B.1.4, test-key-ed25519, PKCS#8 and SubjectPublicKeyInfo DER in base64.
RFC_PRIVATE_PEM_BODY = "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF"
RFC_PUBLIC_PEM_BODY = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="
# RFC 9421 Appendix B.2: the test request.
RFC_REQUEST = HttpMessage(
    {
        "host": "example.com",
        "date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "content-type": "application/json",
        "content-digest": (
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+Ab"
            "wAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
        ),
        "content-length": "18",
    },
    "POST",
    "https://example.com/foo?param=Value&Pet=dog",
)
# RFC 9421 Appendix B.2.6.
RFC_SIGNATURE_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
RFC_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)
RFC_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
)
RFC_COMPONENTS = tuple(
    Component(n)
    for n in ("date", "@method", "@path", "@authority", "content-type", "content-length")
)
RFC_PARAMS = (("created", 1618884473), ("keyid", "test-key-ed25519"))


def rfc_key() -> KeyPair:
    # An Ed25519 PKCS#8 document ends with the 32-byte seed.
    return KeyPair.from_seed(base64.b64decode(RFC_PRIVATE_PEM_BODY)[-32:])


def test_the_rfc_private_key_matches_the_rfc_public_key() -> None:
    assert rfc_key().public.raw == base64.b64decode(RFC_PUBLIC_PEM_BODY)[-32:]


def test_the_rfc_b_2_6_signature_base_is_reproduced_byte_for_byte() -> None:
    assert signature_base(RFC_COMPONENTS, RFC_PARAMS, RFC_REQUEST) == RFC_BASE.encode("ascii")


def test_the_rfc_b_2_6_signature_input_is_reproduced_byte_for_byte() -> None:
    covered = InnerList(tuple(Item(c.name, c.params) for c in RFC_COMPONENTS), RFC_PARAMS)
    assert f"sig-b26={serialize_inner_list(covered)}" == RFC_SIGNATURE_INPUT


def test_the_rfc_b_2_6_signature_is_reproduced_byte_for_byte() -> None:
    # Ed25519 is deterministic, so signing the same base with the same key gives the same bytes.
    # (sign_message always adds alg and nonce, which B.2.6 leaves out, so sign the base.)
    base = signature_base(RFC_COMPONENTS, RFC_PARAMS, RFC_REQUEST)
    signature = base64.b64encode(rfc_key().sign(base)).decode("ascii")
    assert f"sig-b26=:{signature}:" == RFC_SIGNATURE


def test_the_rfc_b_2_6_headers_parse_into_its_components_and_parameters() -> None:
    (sig,) = parse_signatures(RFC_SIGNATURE_INPUT, RFC_SIGNATURE)
    assert (sig.label, sig.components, sig.params) == ("sig-b26", RFC_COMPONENTS, RFC_PARAMS)


def test_the_rfc_b_2_6_signature_verifies_here() -> None:
    (sig,) = parse_signatures(RFC_SIGNATURE_INPUT, RFC_SIGNATURE)
    public = PublicKey(base64.b64decode(RFC_PUBLIC_PEM_BODY)[-32:])
    verify_signature(sig, RFC_REQUEST, [public])


def test_the_rfc_b_2_6_signature_verifies_with_the_library_too() -> None:
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(RFC_PUBLIC_PEM_BODY)[-32:])
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={"test-key-ed25519": public}, private_keys={}),
    )
    headers = {
        **RFC_REQUEST.headers,
        "signature-input": RFC_SIGNATURE_INPUT,
        "signature": RFC_SIGNATURE,
    }
    request = LibRequest("POST", str(RFC_REQUEST.target_uri), headers)
    (result,) = verifier.verify(request, max_age=None)
    assert result.parameters["keyid"] == "test-key-ed25519"


def test_the_rfc_b_2_6_signature_does_not_verify_a_changed_request() -> None:
    (sig,) = parse_signatures(RFC_SIGNATURE_INPUT, RFC_SIGNATURE)
    public = PublicKey(base64.b64decode(RFC_PUBLIC_PEM_BODY)[-32:])
    moved = HttpMessage(RFC_REQUEST.headers, "POST", "https://example.com/bar?param=Value")
    with pytest.raises(Problem) as caught:
        verify_signature(sig, moved, [public])
    assert caught.value.slug == "signature-invalid"
