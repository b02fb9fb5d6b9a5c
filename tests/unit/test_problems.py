"""RFC 9457 problem details."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.problems import (
    MAX_PROBLEM_BYTES,
    MAX_REASON_CHARS,
    PROBLEM_BASE,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPES,
    Problem,
    failure_reason,
    read_problem,
)

SIGNATURE_SLUGS = [
    "signature-missing",
    "signature-malformed",
    "signature-invalid",
    "digest-missing",
    "digest-mismatch",
    "key-unknown",
    "key-revoked",
    "clock-skew",
    "replayed-nonce",
]


@pytest.mark.parametrize("slug", SIGNATURE_SLUGS)
def test_every_signed_exchange_failure_is_a_401(slug: str) -> None:
    assert Problem(slug, "detail").status == 401


def test_an_unknown_slug_is_refused_when_raised() -> None:
    with pytest.raises(KeyError):
        Problem("no-such-problem", "detail")


def test_a_problem_is_an_exception_whose_message_is_its_detail() -> None:
    problem = Problem("clock-skew", "too far")
    assert isinstance(problem, Exception)
    assert str(problem) == "too far"
    with pytest.raises(Problem, match="too far"):
        raise problem


def test_the_problem_document_has_the_rfc_9457_members() -> None:
    document = Problem("replayed-nonce", "nonce seen").to_dict(instance="/api/v1/x")
    assert document == {
        "type": "urn:digitalstate:problem:replayed-nonce",
        "title": "The signature's nonce was seen before",
        "status": 401,
        "detail": "nonce seen",
        "instance": "/api/v1/x",
    }


def test_the_problem_document_leaves_out_an_absent_instance() -> None:
    assert "instance" not in Problem("not-found", "x").to_dict()


def test_extensions_are_added_to_the_problem_document() -> None:
    document = Problem("key-unknown", "x", {"member": "alice.example"}).to_dict()
    assert document["member"] == "alice.example"


def test_extensions_cannot_replace_the_standard_members() -> None:
    extensions = {"type": "about:blank", "status": 200, "title": "fine", "detail": "y"}
    document = Problem("signature-invalid", "x", extensions).to_dict(instance="/i")
    assert document["type"] == PROBLEM_BASE + "signature-invalid"
    assert document["status"] == 401
    assert document["title"] == "The signature does not verify"
    assert document["detail"] == "x"
    assert document["instance"] == "/i"


def test_every_catalogued_type_has_a_stable_uri_and_an_error_status() -> None:
    for slug, kind in PROBLEM_TYPES.items():
        assert kind.slug == slug
        assert kind.uri == PROBLEM_BASE + slug
        assert 400 <= kind.status <= 599
        assert kind.title


def test_a_problem_answered_is_read_back_with_its_members() -> None:
    document = Problem("key-unknown", "who?", {"member": "x"}).to_dict(instance="/i")
    read = read_problem(json.dumps(document).encode(), PROBLEM_MEDIA_TYPE + "; charset=utf-8")
    assert read is not None
    assert read.type == PROBLEM_BASE + "key-unknown" and read.slug == "key-unknown"
    assert (read.title, read.detail, read.status) == (document["title"], "who?", 401)
    assert read.members == document


def test_a_problem_of_a_type_this_package_does_not_know_is_read_as_said() -> None:
    read = read_problem(b'{"type": "https://example.org/out-of-credit", "status": "402"}')
    assert read is not None
    assert read.type == read.slug == "https://example.org/out-of-credit"
    assert (read.title, read.detail, read.status) == (None, None, None)


def test_a_document_without_members_is_a_problem_with_none_of_them() -> None:
    read = read_problem(b"{}")
    assert read is not None
    assert (read.type, read.slug, read.title, read.detail, read.status) == (
        None,
        "",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>Bad gateway</html>",
        b"\xff\xfe",
        b"[1, 2]",
        b'"a string"',
        b"[" * 100_000,
        json.dumps({"detail": "x" * MAX_PROBLEM_BYTES}).encode(),
    ],
    ids=["empty", "html", "not-utf8", "list", "string", "nested-deep", "too-large"],
)
def test_what_is_not_a_bounded_json_object_is_not_a_problem(body: bytes) -> None:
    assert read_problem(body) is None


def test_with_a_media_type_only_problem_json_is_read() -> None:
    body = json.dumps(Problem("not-found", "x").to_dict()).encode()
    assert read_problem(body, "application/json") is None
    assert read_problem(body, "") is None
    assert read_problem(body) is not None


def test_a_failure_is_its_type_and_its_text_in_one_line() -> None:
    assert failure_reason(ConnectionRefusedError(111, "Connect call failed")) == (
        "ConnectionRefusedError: [Errno 111] Connect call failed"
    )
    assert failure_reason(OSError()) == "OSError"
    assert failure_reason(TimeoutError()) == "timed out"
    assert failure_reason(TimeoutError("Connection timeout to host")) == (
        "TimeoutError: Connection timeout to host"
    )
    assert failure_reason(ValueError("a\r\n  bad\tline\n")) == "ValueError: a bad line"


@given(st.text(max_size=5000))
def test_a_failures_text_from_outside_is_cut_to_one_short_line(text: str) -> None:
    reason = failure_reason(RuntimeError(text))
    assert reason.startswith("RuntimeError")
    assert len(reason) <= len("RuntimeError: ") + MAX_REASON_CHARS
    assert reason == " ".join(reason.split())


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_failure_whose_text_cannot_be_had_is_named_by_its_type() -> None:
    assert failure_reason(_UnprintableError()) == "_UnprintableError"
