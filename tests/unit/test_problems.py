"""RFC 9457 problem details."""

from __future__ import annotations

import pytest

from digitalstate.exchange.problems import (
    PROBLEM_BASE,
    PROBLEM_TYPES,
    Problem,
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
