"""ID tokens and client assertions: EdDSA JWS with the nodes' Ed25519 keys, through joserfc."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digitalstate.identity.relying_party import (
    SignInFailedError,
    check_id_token,
    subject_from_claims,
)
from digitalstate.identity.tokens import (
    TokenError,
    audience_matches,
    b64url,
    client_assertion,
    key_id,
    public_jwk,
    sign_token,
    token_header,
    verify_token,
)
from digitalstate.keys import KeyPair
from support.federation import federation_document, member

CHARTER = KeyPair.from_seed(bytes(range(32)))
OTHER = KeyPair.from_seed(bytes(range(32, 64)))
NOW = 1_900_000_000


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


def test_a_signed_token_verifies_with_the_signing_key_and_names_its_kid() -> None:
    token = sign_token({"sub": "abc", "n": 1}, CHARTER)

    assert verify_token(token, [CHARTER.public]) == {"sub": "abc", "n": 1}
    assert token_header(token) == {"typ": "JWT", "alg": "EdDSA", "kid": key_id(CHARTER.public)}


def test_the_signature_is_plain_ed25519_over_the_signing_input() -> None:
    header, payload, signature = sign_token({"sub": "abc"}, CHARTER).split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    assert CHARTER.public.verify(f"{header}.{payload}".encode(), raw)


def test_a_token_verifies_when_any_of_the_keys_signed_it() -> None:
    token = sign_token({"sub": "abc"}, CHARTER)
    assert verify_token(token, [OTHER.public, CHARTER.public])["sub"] == "abc"


def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(TokenError, match="does not verify"):
        verify_token(sign_token({"sub": "abc"}, OTHER), [CHARTER.public])


def test_a_token_with_no_key_to_check_it_is_refused() -> None:
    with pytest.raises(TokenError, match="no key"):
        verify_token(sign_token({"sub": "abc"}, CHARTER), [])


def test_a_tampered_payload_is_refused() -> None:
    header, _, signature = sign_token({"sub": "abc"}, CHARTER).split(".")
    forged = f"{header}.{segment({'sub': 'mallory'})}.{signature}"
    with pytest.raises(TokenError):
        verify_token(forged, [CHARTER.public])


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "Ed25519", None])
def test_a_token_naming_another_algorithm_is_refused_before_its_signature_is_read(
    alg: str | None,
) -> None:
    _, payload, signature = sign_token({"sub": "abc"}, CHARTER).split(".")
    header = {"typ": "JWT"} if alg is None else {"typ": "JWT", "alg": alg}
    with pytest.raises(TokenError, match="must be signed with EdDSA"):
        verify_token(f"{segment(header)}.{payload}.{signature}", [CHARTER.public])


@pytest.mark.parametrize("garbage", ["", "abc", "!!!.x.y", f"{b64url(b'[1]')}.e30.x"])
def test_something_that_is_not_a_jws_is_refused(garbage: str) -> None:
    with pytest.raises(TokenError):
        verify_token(garbage, [CHARTER.public])


def test_the_public_jwk_carries_the_raw_key_and_no_private_part() -> None:
    jwk = public_jwk(CHARTER.public)
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == CHARTER.public.raw
    assert jwk["kid"] == key_id(CHARTER.public)
    assert jwk["alg"] == "EdDSA"
    assert "d" not in jwk
    assert key_id(CHARTER.public) != key_id(OTHER.public)


def test_a_client_assertion_names_the_client_as_issuer_and_subject() -> None:
    claims = verify_token(
        client_assertion("liverpool-pensions", OTHER, "https://c.test/oidc/token", now=NOW),
        [OTHER.public],
    )
    assert claims["iss"] == claims["sub"] == "liverpool-pensions"
    assert claims["aud"] == "https://c.test/oidc/token"
    assert claims["exp"] == NOW + 60
    assert claims["iat"] == NOW
    assert len(claims["jti"]) >= 24
    again = client_assertion("liverpool-pensions", OTHER, "https://c.test/oidc/token", now=NOW)
    assert verify_token(again, [OTHER.public])["jti"] != claims["jti"]


@pytest.mark.parametrize(
    ("aud", "matches"),
    [("rp", True), (["x", "rp"], True), ("x", False), ([], False), (None, False), (7, False)],
)
def test_the_audience_may_be_a_string_or_a_list(aud: Any, matches: bool) -> None:
    assert audience_matches({"aud": aud}, ["rp"]) is matches


# the relying party's checks of an ID token -------------------------------------------------

SINCE = datetime.fromtimestamp(NOW, UTC) - timedelta(days=1)
CHARTER_MEMBER = member(
    "charter",
    CHARTER,
    name="Charter",
    roles=("charter",),
    base_url="https://charter.test",
    since=SINCE,
)
DOCUMENT = federation_document(
    (CHARTER_MEMBER,),
    federation="test",
    issued_at=SINCE,
    expires_at=SINCE + timedelta(days=3),
    catalogue=False,
)
GOOD = {
    "iss": "https://charter.test",
    "aud": "liverpool-pensions",
    "sub": "pseudonym",
    "acr": "urn:digitalstate:loa:low",
    "nonce": "the-nonce",
    "iat": NOW,
    "exp": NOW + 300,
    "auth_time": NOW - 10,
}


def check(claims: dict[str, Any], key: KeyPair = CHARTER, now: float = NOW + 1) -> dict[str, Any]:
    return check_id_token(
        sign_token(claims, key),
        document=DOCUMENT,
        charter=CHARTER_MEMBER,
        client_id="liverpool-pensions",
        nonce="the-nonce",
        now=now,
    )


def test_a_good_id_token_gives_its_subject() -> None:
    subject = subject_from_claims(check(GOOD))
    assert (subject.sub, subject.acr, subject.acting_for) == (
        "pseudonym",
        "urn:digitalstate:loa:low",
        None,
    )


def test_an_id_token_for_a_helper_gives_acting_for() -> None:
    claims = check({**GOOD, "act": {"sub": "helper-pseudonym"}})
    assert subject_from_claims(claims).acting_for == "helper-pseudonym"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"iss": "https://evil.test"}, "wrong issuer"),
        ({"aud": "newcastle-tax"}, "not for this service"),
        ({"aud": ["newcastle-tax"]}, "not for this service"),
        ({"exp": NOW - 60}, "expired"),
        ({"exp": None}, "expired"),
        ({"iat": NOW + 3600}, "issued in the future"),
        ({"nonce": "another-nonce"}, "nonce mismatch"),
        ({"nonce": None}, "nonce mismatch"),
        ({"sub": None}, "no sub or acr"),
        ({"acr": None}, "no sub or acr"),
    ],
)
def test_an_id_token_that_is_not_for_this_sign_in_is_refused(
    change: dict[str, Any], reason: str
) -> None:
    claims = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(SignInFailedError, match=reason):
        check(claims)


def test_an_id_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(SignInFailedError, match="does not verify"):
        check(GOOD, key=OTHER)


def test_an_id_token_is_refused_once_the_charter_key_is_out_of_its_period() -> None:
    with pytest.raises(SignInFailedError, match="id_token refused"):
        check(GOOD, now=SINCE.timestamp() - 3600)
