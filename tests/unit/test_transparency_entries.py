"""Log entries: the exact bytes a leaf hash covers, and what is refused as an entry."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.transparency.entries import (
    ACTIONS,
    SALT_BYTES,
    EntryError,
    LogEntry,
    canonical,
    is_about,
    log_origin,
    make_entry,
    witness_name,
)
from digitalstate.transparency.merkle import leaf_hash

NOW = datetime(2026, 3, 1, 10, 42, 7, 123456, tzinfo=UTC)


def entry(**changes: object) -> LogEntry:
    made = make_entry(
        holder="people-register",
        pseudonym="k5xq3o7zq2m4jv6wp7a2e3fyd4hbkx2c",
        requester="liverpool-pensions",
        action="read",
        outcome="allowed",
        now=NOW,
        purpose="pension-administration",
        consent_id="5f0c8a52-6a4e-4b8e-9d1e-0c3f6c1d2b7a",
        fields=("people.address", "people.date_of_birth"),
    )
    return LogEntry(**{**{f: getattr(made, f) for f in made.__slots__}, **changes})


def test_an_entry_is_canonical_json_with_sorted_keys_and_no_spaces() -> None:
    made = entry(salt="c2FsdHNhbHRzYWx0c2FsdA==")
    assert made.encode() == (
        b'{"action":"read","at":"2026-03-01T10:42:07.123456Z","basis_id":null,'
        b'"consent_id":"5f0c8a52-6a4e-4b8e-9d1e-0c3f6c1d2b7a",'
        b'"fields":["people.address","people.date_of_birth"],"holder":"people-register",'
        b'"outcome":"allowed","pseudonym":"k5xq3o7zq2m4jv6wp7a2e3fyd4hbkx2c",'
        b'"purpose":"pension-administration","reason":"","requester":"liverpool-pensions",'
        b'"salt":"c2FsdHNhbHRzYWx0c2FsdA==","v":1}'
    )
    # What a person holding the entry checks: the leaf hash of exactly these bytes.
    assert leaf_hash(made.encode()) == leaf_hash(LogEntry.decode(made.encode()).encode())


def test_times_are_written_in_utc_with_microseconds() -> None:
    paris = timezone(timedelta(hours=1))
    made = entry(at=datetime(2026, 3, 1, 11, 42, 7, tzinfo=paris))
    assert made.to_json()["at"] == "2026-03-01T10:42:07.000000Z"
    assert LogEntry.decode(made.encode()).at == datetime(2026, 3, 1, 10, 42, 7, tzinfo=UTC)


def test_non_ascii_text_is_kept_as_utf8_not_escaped() -> None:
    made = entry(reason="adresse non trouvée — réessayer")
    data = made.encode()
    assert "trouvée — réessayer".encode() in data
    assert b"\\u" not in data
    assert LogEntry.decode(data) == made


def test_every_entry_gets_its_own_random_salt() -> None:
    salts = {entry().salt for _ in range(50)}
    assert len(salts) == 50
    for salt in salts:
        assert len(base64.b64decode(salt, validate=True)) == SALT_BYTES
    # The same access logged twice is two different leaves.
    assert leaf_hash(entry().encode()) != leaf_hash(entry().encode())


def test_only_known_actions_are_logged() -> None:
    for action in ACTIONS:
        assert entry(action=action).action == action
    with pytest.raises(ValueError, match="unknown access action"):
        make_entry(holder="h", pseudonym="p", requester="r", action="peeked", outcome="o", now=NOW)


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@given(
    holder=TEXT,
    requester=TEXT,
    action=st.sampled_from(sorted(ACTIONS)),
    outcome=TEXT,
    purpose=st.none() | TEXT,
    consent_id=st.none() | TEXT,
    basis_id=st.none() | TEXT,
    fields=st.lists(TEXT, max_size=4),
    reason=TEXT,
    at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_any_entry_round_trips_through_its_bytes(
    holder: str,
    requester: str,
    action: str,
    outcome: str,
    purpose: str | None,
    consent_id: str | None,
    basis_id: str | None,
    fields: list[str],
    reason: str,
    at: datetime,
) -> None:
    made = make_entry(
        holder=holder,
        pseudonym="p",
        requester=requester,
        action=action,
        outcome=outcome,
        now=at,
        purpose=purpose,
        consent_id=consent_id,
        basis_id=basis_id,
        fields=fields,
        reason=reason,
    )
    data = made.encode()
    assert LogEntry.decode(data) == made
    assert LogEntry.decode(data).encode() == data
    assert data == canonical(json.loads(data))


def reencoded(**changes: object) -> bytes:
    value = json.loads(entry().encode())
    value.update(changes)
    return canonical(value)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "version 1"),
        (reencoded(v=2), "version 1"),
        (canonical({"v": 1}), "lacks or garbles"),
        (reencoded(at="yesterday"), "lacks or garbles"),
        (json.dumps(json.loads(entry().encode())).encode(), "canonical"),  # spaces
        (
            json.dumps(
                dict(reversed(json.loads(entry().encode()).items())), separators=(",", ":")
            ).encode(),
            "canonical",
        ),  # keys not sorted
        (
            json.dumps(
                json.loads(entry(reason="é").encode()), sort_keys=True, separators=(",", ":")
            ).encode(),
            "canonical",
        ),  # \\u00e9 instead of UTF-8
        (reencoded(extra="field"), "canonical"),
        (reencoded(fields="people.address"), "canonical"),
        (reencoded(at="2026-03-01T10:42:07Z"), "canonical"),  # no microseconds
        (entry().encode() + b" ", "canonical"),
    ],
)
def test_bytes_that_are_not_exactly_an_entry_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(EntryError, match=problem):
        LogEntry.decode(data)


def test_origins_and_witness_names_are_schema_less_names_without_spaces() -> None:
    assert log_origin("Registers test federation", "people-register") == (
        "digitalstate/registers-test-federation/people-register/log"
    )
    assert witness_name("Registers test federation", "charter") == (
        "digitalstate/registers-test-federation/charter/witness"
    )
    assert log_origin("!!!", "m") == "digitalstate/federation/m/log"
    for name in (log_origin("A  b\tc", "x"), witness_name("Ünïcode fed", "y")):
        assert " " not in name and "+" not in name


def test_an_entry_is_about_its_own_pseudonym_and_no_other() -> None:
    made = entry().encode()
    assert is_about(made, "k5xq3o7zq2m4jv6wp7a2e3fyd4hbkx2c")
    assert not is_about(made, "k5xq3o7zq2m4jv6wp7a2e3fyd4hbkx2")  # a prefix
    assert not is_about(made, "k5xq3o7zq2m4jv6wp7a2e3fyd4hbkx2cc")
    assert not is_about(made, "")


def test_a_pseudonym_written_into_another_field_is_not_what_the_entry_is_about() -> None:
    other = "someone-else"
    for text in (other, f'"pseudonym":"{other}"', f'","pseudonym":"{other}","x":"'):
        for name in ("reason", "requester", "purpose", "consent_id"):
            assert not is_about(entry(**{name: text}).encode(), other), (name, text)
    assert not is_about(entry(fields=(f'"pseudonym":"{other}"',)).encode(), other)


@given(
    mine=st.text(max_size=64),
    other=st.text(max_size=64),
    reason=st.text(max_size=100),
)
def test_the_substring_test_agrees_with_decoding_the_entry(
    mine: str, other: str, reason: str
) -> None:
    made = entry(pseudonym=mine, reason=reason + f'"pseudonym":"{other}"' + other).encode()
    assert is_about(made, mine)
    assert is_about(made, other) == (LogEntry.decode(made).pseudonym == other)
