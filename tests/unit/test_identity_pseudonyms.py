"""Pseudonyms: stable for a person at a node, different at every other node (DESIGN §3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digitalstate.identity.pseudonyms import (
    PseudonymSecretError,
    load_or_create_secret,
    pseudonym,
)

SECRET = bytes(range(32))


def test_a_pseudonym_is_stable() -> None:
    assert pseudonym(SECRET, "liverpool-pensions", "p1") == pseudonym(
        SECRET, "liverpool-pensions", "p1"
    )


def test_a_pseudonym_is_32_lower_case_base32_characters() -> None:
    assert re.fullmatch(r"[a-z2-7]{32}", pseudonym(SECRET, "liverpool-pensions", "p1"))


def test_pseudonyms_differ_per_node_and_per_person() -> None:
    values = {
        pseudonym(SECRET, member, person)
        for member in ("liverpool-pensions", "newcastle-tax", "people-register")
        for person in ("p1", "p2", "p3")
    }
    assert len(values) == 9


def test_pseudonyms_depend_on_the_secret() -> None:
    assert pseudonym(SECRET, "newcastle-tax", "p1") != pseudonym(bytes(32), "newcastle-tax", "p1")


def test_member_and_person_cannot_be_shifted_into_each_other() -> None:
    assert pseudonym(SECRET, "ab", "c") != pseudonym(SECRET, "a", "bc")


def test_the_person_id_does_not_appear_in_the_pseudonym() -> None:
    person = "0b7e3c52-5a59-4f3c-9a2b-6d4f0c1e2a3b"
    assert person.replace("-", "")[:8] not in pseudonym(SECRET, "newcastle-tax", person)


def test_the_secret_is_made_once_with_mode_0600_and_then_reused(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    second = load_or_create_secret(tmp_path)

    assert first == second
    assert len(first) == 32
    assert (tmp_path / "pseudonym.key").stat().st_mode & 0o777 == 0o600


def test_a_secret_open_to_others_is_refused(tmp_path: Path) -> None:
    load_or_create_secret(tmp_path)
    (tmp_path / "pseudonym.key").chmod(0o644)
    with pytest.raises(PseudonymSecretError, match="chmod 600"):
        load_or_create_secret(tmp_path)


def test_a_secret_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(PseudonymSecretError, match="32 bytes"):
        load_or_create_secret(tmp_path)
