"""Sessions and CSRF: the token comparison, return addresses, the session key file."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitalstate.web.session import (
    SessionKeyError,
    csrf_matches,
    load_or_create_session_key,
    local_path,
    session_cookie_name,
)


@pytest.mark.parametrize(
    ("expected", "sent", "matches"),
    [
        ("token-abc", "token-abc", True),
        ("token-abc", "token-abd", False),
        ("token-abc", "token-ab", False),
        ("token-abc", "", False),
        ("", "", False),
        (None, None, False),
        (None, "token-abc", False),
        ("token-abc", None, False),
        ("token-abc", ["token-abc"], False),
        ("tökén", "tökén", True),
    ],
)
def test_a_csrf_token_matches_only_the_sessions_own(
    expected: object, sent: object, matches: bool
) -> None:
    assert csrf_matches(expected, sent) is matches


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("/my", "/my"),
        ("/my/helpers?x=1&y=2", "/my/helpers?x=1&y=2"),
        ("/oidc/authorize?client_id=a&state=b", "/oidc/authorize?client_id=a&state=b"),
        ("", None),
        (None, None),
        ("my", None),
        ("https://evil.example/", None),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("/a\\b", None),
        ("/ok\r\nSet-Cookie: x=1", None),
        ("javascript:alert(1)", None),
    ],
)
def test_only_a_path_on_this_node_is_a_place_to_return_to(
    value: str | None, kept: str | None
) -> None:
    assert local_path(value, "/home") == (kept or "/home")


def test_the_session_cookie_is_named_after_the_member() -> None:
    assert session_cookie_name("newcastle-tax") == "ds-newcastle-tax"


def test_the_session_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_or_create_session_key(tmp_path / "data")
    assert load_or_create_session_key(tmp_path / "data") == first
    assert len(first) == 32
    assert (tmp_path / "data" / "session.key").stat().st_mode & 0o777 == 0o600


def test_a_session_key_open_to_others_is_refused(tmp_path: Path) -> None:
    load_or_create_session_key(tmp_path)
    (tmp_path / "session.key").chmod(0o640)
    with pytest.raises(SessionKeyError, match="chmod 600"):
        load_or_create_session_key(tmp_path)


def test_a_session_key_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    (tmp_path / "session.key").write_bytes(b"x" * 31)
    (tmp_path / "session.key").chmod(0o600)
    with pytest.raises(SessionKeyError, match="32 bytes"):
        load_or_create_session_key(tmp_path)


def test_a_session_cookie_is_sealed_so_no_other_node_can_read_it(tmp_path: Path) -> None:
    from base64 import urlsafe_b64decode

    from itsdangerous.exc import BadSignature

    from digitalstate.web.session import SealedCookie

    secret = b'{"person_id": "0b6f3c1e-5a8e-4a51-9f6e-3c2d1a0b9e77"}'
    sealed = SealedCookie(load_or_create_session_key(tmp_path / "a")).sign(secret)
    assert b"person_id" not in urlsafe_b64decode(sealed)
    assert SealedCookie(load_or_create_session_key(tmp_path / "a")).unsign(sealed) == secret
    with pytest.raises(BadSignature):
        SealedCookie(load_or_create_session_key(tmp_path / "b")).unsign(sealed)
    with pytest.raises(BadSignature):
        SealedCookie(load_or_create_session_key(tmp_path / "a")).unsign(sealed, max_age=-1)
