"""RFC 9421 signatures and the federation's acceptance rules for requests and responses."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from exchange_support import (
    ALICE,
    BOB,
    BODY,
    MALLORY,
    NOW,
    SKEW,
    TARGET,
    fresh_nonces,
    lookup,
    signed_request,
    signed_response,
    with_headers,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from digitalstate.exchange.digest import content_digest
from digitalstate.exchange.replay import NonceCache
from digitalstate.exchange.signatures import (
    Component,
    HttpMessage,
    KeyLookup,
    parse_signatures,
    request_components,
    response_components,
    sign_message,
    signature_base,
    verify_signature,
)
from digitalstate.exchange.verification import (
    MAX_NONCE_LENGTH,
    VerifiedRequest,
    verify_request,
    verify_response,
)
from digitalstate.keys import PublicKey, b64decode, b64encode
from digitalstate.problems import Problem

RESPONSE_BODY = b'{"address": "1 Main Street"}'
GROUND = {"digitalstate-purpose": "benefit-eligibility", "digitalstate-consent": "consent-7"}


def accept(
    message: HttpMessage,
    body: bytes = BODY,
    *,
    keys: KeyLookup = lookup,
    nonces: NonceCache | None = None,
    now: float = NOW,
) -> VerifiedRequest:
    return verify_request(
        message,
        body,
        keys=keys,
        nonces=fresh_nonces() if nonces is None else nonces,
        now=now,
        skew=SKEW,
    )


def refusal(message: HttpMessage, body: bytes = BODY, **kwargs: object) -> str:
    """The slug of the Problem verify_request raises for message."""
    with pytest.raises(Problem) as caught:
        accept(message, body, **kwargs)  # type: ignore[arg-type]
    return caught.value.slug


def accept_response(
    response: HttpMessage,
    request: HttpMessage,
    body: bytes = RESPONSE_BODY,
    *,
    expected_signer: str = "bob.example",
    request_label: str = "sig1",
    now: float = NOW,
) -> object:
    return verify_response(
        response,
        body,
        request,
        request_label,
        expected_signer=expected_signer,
        keys=lookup,
        now=now,
        skew=SKEW,
    )


def response_refusal(response: HttpMessage, request: HttpMessage, **kwargs: object) -> str:
    with pytest.raises(Problem) as caught:
        accept_response(response, request, **kwargs)  # type: ignore[arg-type]
    return caught.value.slug


def resign_input(message: HttpMessage, old: str, new: str) -> HttpMessage:
    """message with a piece of its Signature-Input replaced, the signature left as it was."""
    signature_input = message.headers["signature-input"]
    assert old in signature_input
    return with_headers(message, signature_input=signature_input.replace(old, new))


def flip_signature_bit(message: HttpMessage, index: int = 0) -> HttpMessage:
    label, _, value = message.headers["signature"].partition("=")
    raw = bytearray(b64decode(value.strip(":")))
    raw[index] ^= 0x01
    return with_headers(message, signature=f"{label}=:{b64encode(bytes(raw))}:")


def add_param(message: HttpMessage, param: str) -> HttpMessage:
    """message re-signed by ALICE after appending param to its signature parameters."""
    signature_input = message.headers["signature-input"] + param
    (sig,) = parse_signatures(signature_input, "sig1=:AA==:")
    unsigned = with_headers(message, signature_input=None, signature=None)
    base = signature_base(sig.components, sig.params, unsigned)
    return with_headers(
        unsigned,
        signature_input=signature_input,
        signature=f"sig1=:{b64encode(ALICE.sign(base))}:",
    )


# --- the signature base ---------------------------------------------------------------------


def test_the_request_signature_base_follows_rfc_9421_section_2_5() -> None:
    headers = {"content-digest": content_digest(BODY), "digitalstate-purpose": "tax"}
    message = HttpMessage(headers, "POST", TARGET)
    params = (("created", NOW), ("keyid", "alice.example"), ("alg", "ed25519"), ("nonce", "n"))
    base = signature_base(request_components(headers), params, message)
    assert base.decode() == (
        '"@method": POST\n'
        f'"@target-uri": {TARGET}\n'
        f'"content-digest": {content_digest(BODY)}\n'
        '"digitalstate-purpose": tax\n'
        '"@signature-params": ("@method" "@target-uri" "content-digest" "digitalstate-purpose")'
        f';created={NOW};keyid="alice.example";alg="ed25519";nonce="n"'
    )


def test_the_response_signature_base_binds_the_request_signature() -> None:
    request = signed_request()
    response = HttpMessage({"content-digest": content_digest(b"")}, status=404)
    base = signature_base(response_components("sig1"), (("created", NOW),), response, request)
    request_signature = request.headers["signature"].removeprefix("sig1=")
    assert base.decode() == (
        '"@status": 404\n'
        f'"content-digest": {content_digest(b"")}\n'
        f'"signature";req;key="sig1": {request_signature}\n'
        '"@signature-params": ("@status" "content-digest" "signature";req;key="sig1")'
        f";created={NOW}"
    )


def test_sign_message_writes_the_rfc_9421_headers() -> None:
    message = HttpMessage({"content-digest": content_digest(BODY)}, "POST", TARGET)
    signature_input, signature = sign_message(
        message,
        request_components(message.headers),
        key=ALICE,
        keyid="alice.example",
        created=NOW,
        nonce="abc",
    )
    assert signature_input == (
        'sig1=("@method" "@target-uri" "content-digest")'
        f';created={NOW};keyid="alice.example";alg="ed25519";nonce="abc"'
    )
    assert signature.startswith("sig1=:") and signature.endswith(":")
    assert len(b64decode(signature[6:-1])) == 64


def test_parse_signatures_reads_back_what_sign_message_wrote() -> None:
    request = signed_request(label="req-a")
    (sig,) = parse_signatures(request.headers["signature-input"], request.headers["signature"])
    assert sig.label == "req-a"
    assert [c.name for c in sig.components] == ["@method", "@target-uri", "content-digest"]
    assert (sig.keyid, sig.created, sig.nonce, sig.param("alg")) == (
        "alice.example",
        NOW,
        "nonce-0001",
        "ed25519",
    )
    verify_signature(sig, request, [ALICE.public])


@pytest.mark.parametrize(
    ("target_uri", "expected"),
    [
        # RFC 9421 §2.2 examples.
        (
            "https://www.example.com/path?param=value",
            {
                "@target-uri": "https://www.example.com/path?param=value",
                "@authority": "www.example.com",
                "@scheme": "https",
                "@request-target": "/path?param=value",
                "@path": "/path",
                "@query": "?param=value",
            },
        ),
        (
            "https://www.example.com/path?param=value&foo=bar&baz=bat%2Dman",
            {"@query": "?param=value&foo=bar&baz=bat%2Dman", "@path": "/path"},
        ),
        ("https://www.example.com/path", {"@query": "?", "@request-target": "/path"}),
        ("https://www.example.com/path?", {"@query": "?", "@request-target": "/path?"}),
        # An empty path is "/" (RFC 9421 §2.2.6, RFC 9112 §3.2.1).
        ("https://example.com", {"@path": "/", "@request-target": "/", "@query": "?"}),
        ("https://example.com?a=b", {"@path": "/", "@request-target": "/?a=b"}),
        # Authority: lower-case host, default and empty ports left out (RFC 9110 §4.2.3).
        ("HTTPS://Example.COM:443/x", {"@authority": "example.com", "@scheme": "https"}),
        ("http://example.com:80/x", {"@authority": "example.com"}),
        ("http://example.com:443/x", {"@authority": "example.com:443"}),
        ("https://example.com:8443/x", {"@authority": "example.com:8443"}),
        ("https://example.com:/x", {"@authority": "example.com"}),
        ("https://user:pw@example.com/x", {"@authority": "example.com"}),
        ("https://[2001:DB8::1]:443/x", {"@authority": "[2001:db8::1]"}),
        ("http://[::1]:8080/x", {"@authority": "[::1]:8080"}),
        # Percent-encoding is kept as written; a fragment is not part of the target.
        ("https://a.example/p%20q/r?x=%41#frag", {"@path": "/p%20q/r", "@query": "?x=%41"}),
    ],
)
def test_derived_components_follow_rfc_9421_section_2_2(
    target_uri: str, expected: dict[str, str]
) -> None:
    message = HttpMessage({}, "GET", target_uri)
    components = [Component(name) for name in expected]
    lines = signature_base(components, (), message).decode().split("\n")[:-1]
    assert lines == [f'"{name}": {value}' for name, value in expected.items()]


@pytest.mark.parametrize(
    "target_uri",
    ["/relative/path", "example.com/x", "https:///x", "https://[::1/x", "https://h:8x/"],
)
def test_uri_components_of_a_target_uri_that_is_not_absolute_are_refused(target_uri: str) -> None:
    with pytest.raises(Problem) as caught:
        signature_base([Component("@authority")], (), HttpMessage({}, "GET", target_uri))
    assert caught.value.slug == "signature-malformed"


def test_the_method_is_not_case_normalised() -> None:
    # RFC 9421 §2.2.1: methods are case-sensitive; "get" is not "GET".
    assert signature_base([Component("@method")], (), HttpMessage({}, "get", TARGET)).startswith(
        b'"@method": get\n'
    )
    request = signed_request(method="GET")
    assert refusal(HttpMessage(request.headers, "get", TARGET)) == "signature-invalid"


def test_a_header_value_loses_only_surrounding_spaces_and_tabs() -> None:
    message = HttpMessage({"x-a": " \t value  with  inner \t"}, "GET", TARGET)
    assert signature_base([Component("x-a")], (), message).startswith(
        b'"x-a": value  with  inner\n'
    )


def test_a_dictionary_member_is_selected_with_the_key_parameter() -> None:
    digest = content_digest(BODY)
    message = HttpMessage({"content-digest": "sha-512=:AA==:, " + digest}, "GET", TARGET)
    base = signature_base([Component("content-digest", (("key", "sha-256"),))], (), message)
    assert base.startswith(f'"content-digest";key="sha-256": {digest[8:]}\n'.encode())


@pytest.mark.parametrize(
    ("components", "message_headers"),
    [
        ([Component("@method"), Component("@method")], {}),  # §2.5 step 2.1
        ([Component("x-a"), Component("x-a")], {"x-a": "1"}),
        ([Component("x-missing")], {}),
        ([Component("x-a")], {"x-a": "line\nbreak"}),
        ([Component("x-a")], {"x-a": "carriage\rreturn"}),
        ([Component("x-a")], {"x-a": "caf\u00e9"}),  # §2.5 step 4: the base is ASCII
        ([Component("x-a")], {"x-a": "nul\x00"}),
        ([Component("@status")], {}),  # a request has no status
        ([Component("@query-param", (("name", "a"),))], {}),
        ([Component("@signature-params")], {}),
        ([Component("@unknown")], {}),
        ([Component("x-a", (("sf", True),))], {"x-a": "1"}),  # unsupported parameters
        ([Component("x-a", (("bs", True),))], {"x-a": "1"}),
        ([Component("@method", (("key", "a"),))], {}),
        ([Component("x-a", (("key", 1),))], {"x-a": "a=1"}),
        ([Component("x-a", (("key", "b"),))], {"x-a": "a=1"}),
        ([Component("x-a", (("key", "a"),))], {"x-a": "not a dictionary"}),
        ([Component("@method", (("req", True),))], {}),  # ;req on a request
        ([Component("@method", (("req", False),))], {}),
    ],
)
def test_a_signature_base_that_cannot_be_built_is_signature_malformed(
    components: list[Component], message_headers: dict[str, str]
) -> None:
    message = HttpMessage(message_headers, "POST", TARGET)
    with pytest.raises(Problem) as caught:
        signature_base(components, (), message)
    assert caught.value.slug == "signature-malformed"


@pytest.mark.parametrize("name", ["@method", "@target-uri", "@path", "@authority"])
def test_request_components_of_a_response_need_the_req_parameter(name: str) -> None:
    response = HttpMessage({}, status=200)
    with pytest.raises(Problem, match="not part of a response"):
        signature_base([Component(name)], (), response)
    request = HttpMessage({}, "GET", "https://a.example/p")
    assert signature_base([Component(name, (("req", True),))], (), response, request)


@pytest.mark.parametrize("keyid", ['a"\r\nx-injected: 1', "line\nbreak", "caf\u00e9", "tab\there"])
def test_signing_refuses_a_key_id_that_would_corrupt_the_header(keyid: str) -> None:
    message = HttpMessage({"content-digest": content_digest(b"")}, "GET", TARGET)
    with pytest.raises(ValueError):
        sign_message(
            message, request_components(message.headers), key=ALICE, keyid=keyid, created=1
        )


# --- requests: acceptance -------------------------------------------------------------------


def test_a_signed_request_is_accepted_with_its_signer() -> None:
    verified = accept(signed_request())
    assert verified.member_id == "alice.example"
    assert verified.signature.nonce == "nonce-0001"


def test_a_request_naming_its_purpose_and_consent_is_accepted() -> None:
    request = signed_request(headers=GROUND)
    assert request.headers["signature-input"].startswith(
        'sig1=("@method" "@target-uri" "content-digest" "digitalstate-purpose" '
        '"digitalstate-consent")'
    )
    assert accept(request).member_id == "alice.example"


def test_a_request_with_an_empty_body_is_accepted() -> None:
    assert accept(signed_request(method="GET", body=b""), b"")


def test_any_of_the_signers_current_keys_verifies() -> None:
    def rotating(keyid: str, at: int) -> Sequence[PublicKey]:
        return [MALLORY.public, ALICE.public]

    assert accept(signed_request(), keys=rotating)


def test_the_key_lookup_is_asked_for_the_signers_keys_at_the_creation_time() -> None:
    asked: list[tuple[str, int]] = []

    def recording(keyid: str, at: int) -> Sequence[PublicKey]:
        asked.append((keyid, at))
        return lookup(keyid, at)

    accept(signed_request(created=NOW - 30), keys=recording)
    assert asked == [("alice.example", NOW - 30)]


@pytest.mark.parametrize("offset", [-SKEW, -1, 0, 1, SKEW])
def test_a_creation_time_within_the_skew_is_accepted(offset: int) -> None:
    assert accept(signed_request(created=NOW + offset))


def test_an_unexpired_signature_is_accepted() -> None:
    assert accept(add_param(signed_request(), f";expires={NOW}"))


# --- requests: tampering --------------------------------------------------------------------


def test_a_changed_method_is_refused() -> None:
    request = signed_request()
    assert refusal(HttpMessage(request.headers, "PUT", TARGET)) == "signature-invalid"


@pytest.mark.parametrize(
    "target_uri",
    [
        "https://bob.example/api/v1/records/lookup?kind=income",
        "https://bob.example/api/v1/records/delete?kind=address",
        "https://evil.example/api/v1/records/lookup?kind=address",
        "http://bob.example/api/v1/records/lookup?kind=address",
    ],
)
def test_a_changed_target_uri_is_refused(target_uri: str) -> None:
    request = signed_request()
    assert refusal(HttpMessage(request.headers, "POST", target_uri)) == "signature-invalid"


def test_a_changed_body_is_a_digest_mismatch() -> None:
    assert refusal(signed_request(), b'{"person": "pseudonym-43"}') == "digest-mismatch"


def test_a_changed_body_with_a_recomputed_digest_is_refused() -> None:
    other = b'{"person": "pseudonym-43"}'
    forged = with_headers(signed_request(), content_digest=content_digest(other))
    assert refusal(forged, other) == "signature-invalid"


def test_a_removed_digest_is_digest_missing() -> None:
    assert refusal(with_headers(signed_request(), content_digest=None)) == "digest-missing"


@pytest.mark.parametrize("header", list(GROUND))
def test_a_changed_ground_header_is_refused(header: str) -> None:
    tampered = with_headers(signed_request(headers=GROUND), **{header: "marketing"})
    assert refusal(tampered) == "signature-invalid"


def test_a_ground_header_added_after_signing_is_refused() -> None:
    added = with_headers(signed_request(), digitalstate_purpose="benefit-eligibility")
    assert refusal(added) == "signature-malformed"


def test_a_ground_header_removed_after_signing_is_refused() -> None:
    removed = with_headers(signed_request(headers=GROUND), digitalstate_consent=None)
    assert refusal(removed) == "signature-malformed"


def test_a_signed_basis_cannot_be_swapped_for_a_consent() -> None:
    request = signed_request(headers={"digitalstate-basis": "statute-12"})
    swapped = with_headers(request, digitalstate_basis=None, digitalstate_consent="statute-12")
    assert refusal(swapped) == "signature-malformed"


@pytest.mark.parametrize("index", [0, 31, 32, 63])
def test_a_changed_signature_bit_is_refused(index: int) -> None:
    assert refusal(flip_signature_bit(signed_request(), index)) == "signature-invalid"


@pytest.mark.parametrize("size", [0, 32, 63, 65])
def test_a_signature_of_the_wrong_length_is_refused(size: int) -> None:
    forged = with_headers(signed_request(), signature=f"sig1=:{b64encode(b'x' * size)}:")
    assert refusal(forged) == "signature-invalid"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (f"created={NOW}", f"created={NOW - 1}"),
        ('nonce="nonce-0001"', 'nonce="nonce-0002"'),
        ('keyid="alice.example"', 'keyid="bob.example"'),
        ('"@target-uri" "content-digest"', '"content-digest" "@target-uri"'),
    ],
)
def test_a_changed_signature_parameter_is_refused(old: str, new: str) -> None:
    assert refusal(resign_input(signed_request(), old, new)) == "signature-invalid"


def test_an_added_signature_parameter_is_refused() -> None:
    request = signed_request()
    added = with_headers(request, signature_input=request.headers["signature-input"] + ';tag="x"')
    assert refusal(added) == "signature-invalid"


def test_a_signature_with_extra_signed_parameters_is_accepted() -> None:
    assert accept(add_param(signed_request(), ';tag="digitalstate"'))


@pytest.mark.parametrize("alg", ['"rsa-pss-sha512"', '"hmac-sha256"', "ed25519", '"ED25519"'])
def test_an_algorithm_other_than_ed25519_is_refused(alg: str) -> None:
    request = resign_input(signed_request(), 'alg="ed25519"', f"alg={alg}")
    assert refusal(request) == "signature-invalid"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"@method" ', ""),
        (' "@target-uri"', ""),
        (' "content-digest"', ""),
        ('"@method"', '"@method";req'),
        ('"content-digest"', '"content-digest";key="sha-256"'),
    ],
)
def test_a_signature_that_does_not_cover_the_required_components_is_refused(
    old: str, new: str
) -> None:
    assert refusal(resign_input(signed_request(), old, new)) == "signature-malformed"


def test_a_signature_claiming_another_members_key_id_is_refused() -> None:
    assert refusal(signed_request(key=MALLORY)) == "signature-invalid"


def test_an_unknown_signer_is_key_unknown() -> None:
    request = signed_request(key=MALLORY, keyid="mallory.example")
    assert refusal(request) == "key-unknown"


def test_a_revoked_signer_is_key_revoked() -> None:
    def revoked(keyid: str, at: int) -> Sequence[PublicKey]:
        raise Problem("key-revoked", f"{keyid} was revoked")

    assert refusal(signed_request(), keys=revoked) == "key-revoked"


# --- requests: missing and malformed headers ------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"signature_input": None},
        {"signature": None},
        {"signature_input": None, "signature": None},
        {"signature_input": ""},
        {"signature": ""},
        {"signature_input": "   ", "signature": "   "},
    ],
)
def test_a_request_without_signature_headers_is_signature_missing(
    changes: dict[str, str | None],
) -> None:
    assert refusal(with_headers(signed_request(), **changes)) == "signature-missing"


def test_an_unsigned_request_is_signature_missing() -> None:
    request = HttpMessage({"content-digest": content_digest(BODY)}, "POST", TARGET)
    assert refusal(request) == "signature-missing"


@pytest.mark.parametrize(
    "changes",
    [
        {"signature_input": "sig1=garbage"},
        {"signature_input": "sig1=("},
        {"signature_input": "not a dictionary at all"},
        {"signature_input": 'sig1=("@method" 1)'},  # components must be strings
        {"signature_input": "sig1=(@method)"},  # tokens are not strings
        {"signature": "sig1=garbage"},
        {"signature": 'sig1="not bytes"'},
        {"signature": "sig1=:not*base64:"},
        {"signature": "sig2=:AAAA:"},  # no value for sig1
        {"signature": "sig1=(:AAAA:)"},
        {"signature_input": "\x00"},
    ],
)
def test_garbage_signature_headers_are_signature_malformed(changes: dict[str, str]) -> None:
    assert refusal(with_headers(signed_request(), **changes)) == "signature-malformed"


def test_two_signatures_on_one_request_are_signature_malformed() -> None:
    request = signed_request()
    second = signed_request(label="sig2")
    both = with_headers(
        request,
        signature_input=f"{request.headers['signature-input']}, "
        f"{second.headers['signature-input']}",
        signature=f"{request.headers['signature']}, {second.headers['signature']}",
    )
    assert refusal(both) == "signature-malformed"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (';keyid="alice.example"', ""),
        (';keyid="alice.example"', ";keyid=alice"),  # a token is not a string
        (';nonce="nonce-0001"', ""),
        (';nonce="nonce-0001"', ';nonce=""'),
        (';nonce="nonce-0001"', f';nonce="{"n" * (MAX_NONCE_LENGTH + 1)}"'),
        (';nonce="nonce-0001"', ";nonce=1"),
        (f";created={NOW}", ""),
        (f";created={NOW}", f';created="{NOW}"'),
        (f";created={NOW}", ";created=?1"),
    ],
)
def test_missing_or_mistyped_signature_parameters_are_signature_malformed(
    old: str, new: str
) -> None:
    assert refusal(resign_input(signed_request(), old, new)) == "signature-malformed"


def test_a_nonce_of_the_maximum_length_is_accepted() -> None:
    assert accept(signed_request(nonce="n" * MAX_NONCE_LENGTH))


def test_a_signature_without_a_nonce_is_refused() -> None:
    assert refusal(signed_request(nonce=None)) == "signature-malformed"


# --- requests: time and replay --------------------------------------------------------------


@pytest.mark.parametrize("offset", [-SKEW - 1, SKEW + 1, -3600, 3600])
def test_a_creation_time_beyond_the_skew_is_clock_skew(offset: int) -> None:
    assert refusal(signed_request(created=NOW + offset)) == "clock-skew"


def test_a_creation_time_beyond_the_skew_is_refused_even_a_fraction_later() -> None:
    assert refusal(signed_request(created=NOW), now=NOW + SKEW + 0.5) == "clock-skew"


def test_an_expired_signature_is_clock_skew() -> None:
    assert refusal(add_param(signed_request(), f";expires={NOW - 1}")) == "clock-skew"


def test_a_non_integer_expiry_is_signature_malformed() -> None:
    assert refusal(add_param(signed_request(), ';expires="soon"')) == "signature-malformed"


def test_a_replayed_nonce_is_refused() -> None:
    nonces = fresh_nonces()
    request = signed_request()
    accept(request, nonces=nonces)
    assert refusal(request, nonces=nonces, now=NOW + 1) == "replayed-nonce"


def test_a_replayed_nonce_is_refused_even_on_a_new_signature() -> None:
    nonces = fresh_nonces()
    accept(signed_request(), nonces=nonces)
    again = signed_request(target_uri="https://bob.example/other", created=NOW + 1)
    assert refusal(again, nonces=nonces, now=NOW + 1) == "replayed-nonce"


def test_a_replay_is_refused_for_as_long_as_the_signature_is_acceptable() -> None:
    # Created a full skew ahead of this clock, the signature is acceptable until NOW + 2 * SKEW.
    nonces = fresh_nonces()
    request = signed_request(created=NOW + SKEW)
    accept(request, nonces=nonces, now=NOW)
    assert refusal(request, nonces=nonces, now=NOW + 2 * SKEW) == "replayed-nonce"
    assert refusal(request, nonces=nonces, now=NOW + 2 * SKEW + 1) == "clock-skew"


def test_another_signers_identical_nonce_is_accepted() -> None:
    nonces = fresh_nonces()
    accept(signed_request(), nonces=nonces)
    assert accept(signed_request(key=BOB, keyid="bob.example"), nonces=nonces)


def test_a_forged_call_does_not_use_up_the_nonce() -> None:
    nonces = fresh_nonces()
    assert refusal(flip_signature_bit(signed_request()), nonces=nonces) == "signature-invalid"
    assert accept(signed_request(), nonces=nonces)
    assert len(nonces) == 1


def test_a_nonce_cache_shorter_than_the_acceptance_window_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="nonce cache"):
        accept(signed_request(), nonces=NonceCache(ttl_seconds=SKEW))


# --- responses ------------------------------------------------------------------------------


def test_a_response_bound_to_its_request_is_accepted() -> None:
    request = signed_request()
    sig = accept_response(signed_response(request), request)
    assert sig.keyid == "bob.example"  # type: ignore[attr-defined]


def test_a_response_to_request_a_is_refused_as_the_answer_to_request_b() -> None:
    request_a = signed_request(nonce="nonce-a")
    request_b = signed_request(nonce="nonce-b")
    response_to_a = signed_response(request_a)
    assert response_refusal(response_to_a, request_b) == "signature-invalid"


def test_a_response_to_the_same_call_made_twice_does_not_transfer() -> None:
    first = signed_request(nonce="nonce-a", created=NOW)
    second = signed_request(nonce="nonce-b", created=NOW + 1)
    assert response_refusal(signed_response(first), second) == "signature-invalid"


def test_a_response_signed_by_another_member_is_refused() -> None:
    request = signed_request()
    from_alice = signed_response(request, key=ALICE, keyid="alice.example")
    assert response_refusal(from_alice, request) == "signature-invalid"


def test_a_response_forged_under_the_expected_signers_key_id_is_refused() -> None:
    request = signed_request()
    forged = signed_response(request, key=MALLORY, keyid="bob.example")
    assert response_refusal(forged, request) == "signature-invalid"


def test_a_response_with_a_changed_status_is_refused() -> None:
    request = signed_request()
    response = signed_response(request, status=200)
    changed = HttpMessage(response.headers, status=500)
    assert response_refusal(changed, request) == "signature-invalid"


def test_a_response_with_a_changed_body_is_a_digest_mismatch() -> None:
    request = signed_request()
    with pytest.raises(Problem) as caught:
        accept_response(signed_response(request), request, b'{"address": "2 Main Street"}')
    assert caught.value.slug == "digest-mismatch"


def test_an_unbound_response_is_refused() -> None:
    request = signed_request()
    headers = {"content-digest": content_digest(RESPONSE_BODY)}
    unsigned = HttpMessage(headers, status=200)
    signature_input, signature = sign_message(
        unsigned,
        [Component("@status"), Component("content-digest")],
        key=BOB,
        keyid="bob.example",
        created=NOW,
    )
    response = with_headers(unsigned, signature_input=signature_input, signature=signature)
    assert response_refusal(response, request) == "signature-malformed"


def test_a_response_bound_to_another_label_is_refused() -> None:
    request = signed_request(label="other")
    response = signed_response(request, request_label="other")
    assert response_refusal(response, request, request_label="sig1") == "signature-malformed"


def test_a_response_not_covering_its_status_is_refused() -> None:
    request = signed_request()
    response = resign_input(signed_response(request), '"@status" ', "")
    assert response_refusal(response, request) == "signature-malformed"


@pytest.mark.parametrize("offset", [-SKEW - 1, SKEW + 1])
def test_a_response_created_beyond_the_skew_is_clock_skew(offset: int) -> None:
    request = signed_request()
    response = signed_response(request, created=NOW + offset)
    assert response_refusal(response, request) == "clock-skew"


def test_an_unsigned_response_is_signature_missing() -> None:
    request = signed_request()
    response = HttpMessage({"content-digest": content_digest(RESPONSE_BODY)}, status=200)
    assert response_refusal(response, request) == "signature-missing"


def test_signing_a_bound_response_without_its_request_is_refused() -> None:
    unsigned = HttpMessage({"content-digest": content_digest(b"")}, status=200)
    with pytest.raises(Problem, match="needs the request"):
        sign_message(unsigned, response_components("sig1"), key=BOB, keyid="b", created=NOW)


# --- properties -----------------------------------------------------------------------------

methods = st.from_regex(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,10}", fullmatch=True)
paths = st.from_regex(r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@%]{0,12}){1,4}", fullmatch=True)
queries = st.one_of(
    st.just(""), st.from_regex(r"\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]{0,20}", fullmatch=True)
)
hosts = st.sampled_from(["bob.example", "BOB.example:8443", "127.0.0.1:8001", "[::1]:9000"])
bodies = st.binary(max_size=2048)
nonce_values = st.from_regex(r"[A-Za-z0-9_\-]{1,128}", fullmatch=True)


@given(methods, hosts, paths, queries, bodies, nonce_values, st.integers(-SKEW, SKEW))
def test_any_signed_request_verifies(
    method: str, host: str, path: str, query: str, body: bytes, nonce: str, offset: int
) -> None:
    target = f"https://{host}{path}{query}"
    request = signed_request(
        method=method, target_uri=target, body=body, nonce=nonce, created=NOW + offset
    )
    assert accept(request, body).member_id == "alice.example"


@given(bodies.filter(bool), st.data())
def test_any_single_byte_change_of_the_body_is_refused(body: bytes, data: st.DataObject) -> None:
    request = signed_request(body=body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert refusal(request, changed) == "digest-mismatch"


@given(st.integers(0, 63), st.integers(0, 7))
def test_any_single_bit_change_of_the_signature_is_refused(index: int, bit: int) -> None:
    request = signed_request()
    label, _, value = request.headers["signature"].partition("=")
    raw = bytearray(b64decode(value.strip(":")))
    raw[index] ^= 1 << bit
    forged = with_headers(request, signature=f"{label}=:{b64encode(bytes(raw))}:")
    assert refusal(forged) == "signature-invalid"


@settings(max_examples=50)
@given(paths, paths)
def test_a_request_signed_for_one_path_is_refused_on_another(signed: str, sent: str) -> None:
    if signed == sent:
        return
    request = signed_request(target_uri=f"https://bob.example{signed}")
    moved = HttpMessage(request.headers, "POST", f"https://bob.example{sent}")
    assert refusal(moved) == "signature-invalid"


@given(bodies, bodies.filter(bool))
def test_any_response_verifies_only_against_its_own_request(
    request_body: bytes, response_body: bytes
) -> None:
    request = signed_request(body=request_body)
    other = signed_request(body=request_body, nonce="another-nonce")
    response = signed_response(request, body=response_body)
    assert accept_response(response, request, response_body)
    assert response_refusal(response, other, body=response_body) == "signature-invalid"
