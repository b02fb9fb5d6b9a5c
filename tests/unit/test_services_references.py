"""Reference numbers: readable, random, and a mistyped one is refused, never taken for another."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.services.references import (
    ALPHABET,
    CODE_LENGTH,
    Reference,
    ReferenceNumberError,
    check_character,
    new_reference,
    parse_reference,
)

FORMAT = re.compile(r"^[A-Z]{2,4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]$")
codes = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH).filter(
    lambda code: check_character(code) is not None
)


def full(code: str) -> str:
    check = check_character(code)
    assert check is not None
    return code + check


def test_a_new_reference_has_the_prefix_and_groups_of_four() -> None:
    reference = new_reference("RTV")
    assert FORMAT.match(str(reference)), str(reference)
    assert str(reference).startswith("RTV-")
    assert parse_reference(str(reference)) == reference


def test_the_alphabet_leaves_out_the_look_alikes() -> None:
    assert len(ALPHABET) == 30
    assert not set("0O1ILU") & set(ALPHABET)


def test_new_references_differ() -> None:
    assert len({str(new_reference("PV")) for _ in range(200)}) == 200


def test_a_prefix_that_is_not_2_to_4_capitals_is_refused() -> None:
    for prefix in ("R", "RTVXX", "rtv", "R1"):
        with pytest.raises(ValueError, match="2 to 4 capital letters"):
            new_reference(prefix)


@given(codes)
def test_a_reference_is_read_back_however_it_is_typed(code: str) -> None:
    reference = Reference("RTV", full(code))
    typed = str(reference)
    for variant in (typed, typed.lower(), typed.replace("-", ""), typed.replace("-", " ")):
        assert parse_reference(f"  {variant} ") == reference


@given(codes, st.integers(0, CODE_LENGTH), st.sampled_from(ALPHABET))
def test_every_single_mistyped_character_is_caught(code: str, at: int, wrong: str) -> None:
    right = full(code)
    typed = right[:at] + wrong + right[at + 1 :]
    if typed == right:
        return
    with pytest.raises(ReferenceNumberError, match="mistake"):
        parse_reference(f"RTV{typed}")


@given(codes, st.integers(0, CODE_LENGTH - 1))
def test_every_swap_of_two_neighbours_is_caught(code: str, at: int) -> None:
    right = full(code)
    typed = right[:at] + right[at + 1] + right[at] + right[at + 2 :]
    if typed == right:
        return
    with pytest.raises(ReferenceNumberError, match="mistake"):
        parse_reference(f"RTV{typed}")


def test_a_code_without_a_check_character_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # One code in 31 would need the 31st check value, which has no character.
    without = next(
        code
        for code in (f"{a}{b}222222" for a in ALPHABET for b in ALPHABET)
        if check_character(code) is None
    )
    drawn = iter(without + "23456789")
    monkeypatch.setattr("digitalstate.services.references.secrets.choice", lambda _: next(drawn))
    assert str(new_reference("CA")).startswith("CA-2345-6789-")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "correct format"),
        ("RTV-7KD4", "correct format"),
        ("RTV-7KD4-MX2Q-P" + "2" * 60, "correct format"),
        ("12-7KD4-MX2Q-P", "starts with 2 to 4 letters"),
        ("RTV-7KD4-MX2O-P", "has no O"),
        ("RTV-1KD4-MX2Q-P", "has no 1"),
    ],
)
def test_text_that_is_no_reference_is_refused_saying_why(text: str, why: str) -> None:
    with pytest.raises(ReferenceNumberError, match=why):
        parse_reference(text)


def test_another_services_reference_is_refused_when_a_prefix_is_asked_for() -> None:
    reference = new_reference("PV")
    assert parse_reference(str(reference), "PV") == reference
    with pytest.raises(ReferenceNumberError, match="not a reference number of this service"):
        parse_reference(str(reference), "RTV")
