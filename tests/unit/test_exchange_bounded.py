"""exchange/bounded.parse_json: JSON from another server, every failure a ValueError."""

from __future__ import annotations

import pytest

from digitalstate.exchange.bounded import AnswerTooLargeError, parse_json


def test_json_is_parsed() -> None:
    assert parse_json(b'{"proof": ["a"]}') == {"proof": ["a"]}


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"{" * 50_000],
    ids=["empty", "text", "not-utf8", "nested-past-the-parser", "unclosed"],
)
def test_what_is_not_json_is_a_value_error(body: bytes) -> None:
    # json.loads raises RecursionError for the nested one, which callers catching ValueError
    # (as they do for what is not JSON) let through.
    with pytest.raises(ValueError):
        parse_json(body)


def test_a_too_large_answer_is_a_value_error_that_says_the_bound() -> None:
    assert isinstance(AnswerTooLargeError(10), ValueError)
    assert str(AnswerTooLargeError(10)) == "answered more than the 10 bytes allowed"
    assert str(AnswerTooLargeError(10, 99)) == "answered 99 bytes, more than the 10 allowed"
