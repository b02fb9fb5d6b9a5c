"""RFC 9530 Content-Digest (sha-256)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.exchange.digest import check_content_digest, content_digest
from digitalstate.problems import Problem

HELLO = b'{"hello": "world"}'
HELLO_DIGEST = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"  # RFC 9530 §2
SHA512_HELLO = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+Ab"
    "wAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
)


def slug_of(header: str | None, body: bytes) -> str:
    with pytest.raises(Problem) as caught:
        check_content_digest(header, body)
    return caught.value.slug


def test_the_digest_of_the_rfc_example_matches_the_rfc() -> None:
    assert content_digest(HELLO) == HELLO_DIGEST


def test_the_digest_of_an_empty_body_is_the_sha_256_of_nothing() -> None:
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_a_matching_digest_is_returned_as_received() -> None:
    assert check_content_digest(HELLO_DIGEST, HELLO) == HELLO_DIGEST


def test_other_algorithms_beside_sha_256_are_ignored() -> None:
    header = f"{SHA512_HELLO}, {HELLO_DIGEST}"
    assert check_content_digest(header, HELLO) == header


def test_parameters_on_the_sha_256_member_are_allowed() -> None:
    assert check_content_digest(HELLO_DIGEST + ";note=1", HELLO)


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header_is_digest_missing(header: str | None) -> None:
    assert slug_of(header, HELLO) == "digest-missing"


def test_a_header_without_sha_256_is_digest_missing() -> None:
    assert slug_of(SHA512_HELLO, HELLO) == "digest-missing"


def test_a_digest_of_another_body_is_digest_mismatch() -> None:
    assert slug_of(content_digest(b"other"), HELLO) == "digest-mismatch"


@pytest.mark.parametrize(
    "header",
    [
        'sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="',  # a string, not bytes
        "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",  # not even a token
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",  # unterminated
        "sha-256=:not*base64:",
        "sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)",  # an inner list
        "sha-256",  # a bare key is boolean true
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, !!",  # garbage after it
    ],
)
def test_a_malformed_header_is_digest_mismatch(header: str) -> None:
    assert slug_of(header, HELLO) == "digest-mismatch"


def test_a_truncated_digest_is_digest_mismatch() -> None:
    short = base64.b64encode(hashlib.sha256(HELLO).digest()[:16]).decode()
    assert slug_of(f"sha-256=:{short}:", HELLO) == "digest-mismatch"


def test_a_repeated_sha_256_member_counts_by_its_last_value() -> None:
    # RFC 8941: the last value of a repeated key wins, as every other parser reads it.
    wrong = content_digest(b"other")
    assert check_content_digest(f"{wrong}, {HELLO_DIGEST}", HELLO)
    assert slug_of(f"{HELLO_DIGEST}, {wrong}", HELLO) == "digest-mismatch"


def test_a_sha_256_lookalike_inside_another_member_is_not_read() -> None:
    header = f'sha-512=:AA==:;note="x, {HELLO_DIGEST}"'
    assert slug_of(header, HELLO) == "digest-missing"


@given(st.binary(max_size=512))
def test_any_body_matches_its_own_digest(body: bytes) -> None:
    assert check_content_digest(content_digest(body), body)


@given(st.binary(min_size=1, max_size=256), st.data())
def test_any_single_byte_change_of_the_body_is_a_mismatch(body: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert slug_of(content_digest(body), changed) == "digest-mismatch"
