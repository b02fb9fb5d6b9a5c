"""Passwords are kept as argon2id hashes."""

from __future__ import annotations

from digitalstate.identity.service import hash_password, verify_password

HASH = hash_password("correct horse")


def test_a_password_is_kept_as_an_argon2id_hash() -> None:
    assert HASH.startswith("$argon2id$")
    assert "correct horse" not in HASH


def test_only_the_right_password_verifies() -> None:
    assert verify_password(HASH, "correct horse")
    assert not verify_password(HASH, "correct horse ")
    assert not verify_password(HASH, "")


def test_a_malformed_hash_verifies_nothing() -> None:
    assert not verify_password("not a hash", "not a hash")
    assert not verify_password("", "")
