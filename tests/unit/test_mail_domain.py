"""The rules of a message a node sends: addresses, bounds, headers and what a failure means."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.mail.domain import (
    MAX_BODY_BYTES,
    MAX_RECIPIENTS,
    MAX_SUBJECT_CHARS,
    Email,
    InvalidEmailError,
    build_message,
    check_key,
    compose,
    describe_refusals,
    is_permanent,
    message_id,
    parse_address,
)

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given_address", "normal"),
    [
        ("alice@example.test", "alice@example.test"),
        ("  Alice.Smith+visits@Example.TEST ", "Alice.Smith+visits@example.test"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
    ],
)
def test_an_address_is_kept_with_its_domain_in_lower_case(given_address: str, normal: str) -> None:
    assert parse_address(given_address) == normal


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "alice",
        "alice@",
        "@example.test",
        "alice@localhost",
        "alice@example.123",
        ".alice@example.test",
        "alice.@example.test",
        "al..ice@example.test",
        "alice smith@example.test",
        "Alice <alice@example.test>",
        "alice@example.test\r\nBcc: eve@example.test",
        "alice@example.test, bob@example.test",
        "alice@-example.test",
        "élise@example.test",
        "a" * 65 + "@example.test",
        "alice@" + "a" * 250 + ".test",
    ],
)
def test_anything_but_a_plain_address_is_refused(bad: str) -> None:
    assert parse_address(bad) is None


def test_a_message_is_normalised_and_repeated_recipients_go() -> None:
    message = compose(
        ["bob@Example.test", "bob@example.test", "alice@example.test"],
        "  Your visit is booked  ",
        "Line one\r\nLine two\rLine three",
    )
    assert message == Email(
        ("bob@example.test", "alice@example.test"),
        "Your visit is booked",
        "Line one\nLine two\nLine three",
    )
    assert compose("alice@example.test", "Hi", "Body").recipients == ("alice@example.test",)


def _refused(field: str, **parts: object) -> InvalidEmailError:
    given_parts: dict[str, object] = {"to": "alice@example.test", "subject": "Hi", "body": "Hi"}
    given_parts.update(parts)
    with pytest.raises(InvalidEmailError) as caught:
        compose(given_parts["to"], given_parts["subject"], given_parts["body"])  # type: ignore[arg-type]
    assert caught.value.field == field
    return caught.value


def test_the_bounds_are_ten_recipients_a_subject_of_200_characters_and_a_body_of_64_kib() -> None:
    many = [f"person{i}@example.test" for i in range(MAX_RECIPIENTS)]
    assert len(compose(many, "s" * MAX_SUBJECT_CHARS, "b" * MAX_BODY_BYTES).recipients) == 10
    assert "at most 10" in _refused("to", to=[*many, "one-more@example.test"]).message
    assert "at most 200" in _refused("subject", subject="s" * (MAX_SUBJECT_CHARS + 1)).message
    assert "at most 65536" in _refused("body", body="b" * (MAX_BODY_BYTES + 1)).message
    # The bound is in bytes: 32,768 two-byte characters fit, one more does not.
    assert compose(many[0], "s", "é" * (MAX_BODY_BYTES // 2)).body
    assert "not 65538" in _refused("body", body="é" * (MAX_BODY_BYTES // 2 + 1)).message


def test_a_message_with_nothing_to_say_or_no_one_to_tell_is_refused() -> None:
    assert "at least one" in _refused("to", to=[]).message
    assert "like name@example.com" in _refused("to", to=["alice@example.test", "nobody"]).message
    assert _refused("subject", subject="   ").message == "Give the message a subject"
    assert _refused("body", body=" \n ").message == "Give the message a body"


@pytest.mark.parametrize(
    "subject",
    [
        "Hi\r\nBcc: eve@example.test",
        "Hi\nthere",
        "Tab\there",
        "Next\x85line",
        "Line\u2028separator",
    ],
)
def test_a_subject_is_one_line_so_no_header_can_be_smuggled_in(subject: str) -> None:
    assert "one line" in _refused("subject", subject=subject).message


def test_a_body_of_text_only() -> None:
    assert "NUL" in _refused("body", body="a\x00b").message
    assert "UTF-8" in _refused("body", body="lone \ud800 surrogate").message


def test_a_key_is_one_to_200_printable_characters() -> None:
    assert check_key("application:RTV-7KD4-MX2Q-P:confirmation")
    for bad in ("", "k" * 201, "line\nbreak"):
        with pytest.raises(InvalidEmailError):
            check_key(bad)


def test_the_message_as_sent_is_utf8_plain_text_with_its_headers() -> None:
    message = compose(
        ["bob@example.test", "alice@example.test"], "Ymweliad wedi\u2019i drefnu", "Diolch — £5\n"
    )
    built = build_message(
        message, sender="prisons@example.test", message_id="<email-1-ab@example.test>", date=NOW
    )
    parsed = email.message_from_bytes(built.as_bytes(), policy=email.policy.default)
    assert parsed["From"] == "prisons@example.test"
    assert parsed["To"] == "bob@example.test, alice@example.test"
    assert parsed["Subject"] == "Ymweliad wedi\u2019i drefnu"
    assert parsed["Message-ID"] == "<email-1-ab@example.test>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Date"] == "Sun, 01 Mar 2026 09:30:00 +0000"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n") == "Diolch — £5\n"
    assert all(line.endswith(b"\r\n") for line in built.as_bytes().splitlines(keepends=True))


def test_the_message_id_is_the_same_at_every_try_and_differs_between_messages() -> None:
    first = message_id(7, "application:1", "prisons@example.test")
    assert first == message_id(7, "application:1", "prisons@example.test")
    assert first != message_id(8, "application:1", "prisons@example.test")
    assert first != message_id(7, "application:2", "prisons@example.test")
    assert first.startswith("<email-7-") and first.endswith("@example.test>")


@pytest.mark.parametrize(
    ("code", "stage", "permanent"),
    [
        (550, "rcpt", True),
        (552, "data", True),
        (553, "mail", True),
        (451, "rcpt", False),
        (421, "data", False),
        (535, "auth", False),  # the node's password is wrong: fix the settings, lose nothing
        (554, "helo", False),
        (None, "connect", False),
    ],
)
def test_only_a_5xx_answer_about_the_message_fails_it_for_good(
    code: int | None, stage: str, permanent: bool
) -> None:
    assert is_permanent(code, stage) is permanent  # type: ignore[arg-type]


def test_refusals_are_told_in_one_bounded_line() -> None:
    line = describe_refusals([("a@example.test", 550, "No such mailbox")] * 100)
    assert line.startswith("a@example.test: 550 No such mailbox; ")
    assert len(line) == 1000


@given(st.text(max_size=300))
def test_an_address_once_parsed_parses_to_itself(text: str) -> None:
    address = parse_address(text)
    if address is not None:
        assert parse_address(address) == address
        assert "\n" not in address and "\r" not in address and " " not in address
