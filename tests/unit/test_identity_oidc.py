"""The provider's plain parts: members as clients, PKCE, dates typed by people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from digitalstate.federation.domain import Member, MemberKey
from digitalstate.identity.oidc import MemberClient, redirect_uri_of
from digitalstate.identity.pages import end_of_day, parse_day
from digitalstate.identity.relying_party import pkce_challenge
from digitalstate.keys import KeyPair

KEY = KeyPair.from_seed(bytes(range(32)))
MEMBER = Member(
    id="liverpool-pensions",
    name="Liverpool: pensions",
    roles=("service",),
    base_url="https://pensions.test",
    keys=(MemberKey(public_key=KEY.public.b64, not_before=datetime(2020, 1, 1, tzinfo=UTC)),),
)
CLIENT = MemberClient(MEMBER, (KEY.public,))


def test_a_members_only_redirect_uri_is_its_callback() -> None:
    assert redirect_uri_of(MEMBER) == "https://pensions.test/auth/callback"
    assert CLIENT.check_redirect_uri("https://pensions.test/auth/callback")
    for forged in (
        "https://pensions.test/auth/callback/",
        "https://pensions.test/auth/callback?x=1",
        "https://pensions.test/auth/callback#x",
        "http://pensions.test/auth/callback",
        "https://pensions.test.evil/auth/callback",
        "https://PENSIONS.test/auth/callback",
    ):
        assert not CLIENT.check_redirect_uri(forged), forged


def test_a_member_may_only_use_the_code_flow_and_private_key_jwt() -> None:
    assert CLIENT.get_client_id() == "liverpool-pensions"
    assert CLIENT.check_response_type("code")
    assert not CLIENT.check_response_type("token")
    assert CLIENT.check_grant_type("authorization_code")
    assert not CLIENT.check_grant_type("refresh_token")
    assert CLIENT.check_endpoint_auth_method("private_key_jwt", "token")
    assert not CLIENT.check_endpoint_auth_method("client_secret_basic", "token")
    assert not CLIENT.check_endpoint_auth_method("none", "token")
    assert not CLIENT.check_client_secret("")


@pytest.mark.parametrize(
    ("asked", "granted"),
    [("openid", "openid"), ("openid profile email", "openid"), ("profile", None), (None, None)],
)
def test_openid_must_be_asked_for_and_other_scopes_are_dropped(
    asked: str | None, granted: str | None
) -> None:
    assert CLIENT.get_allowed_scope(asked) == granted


def test_the_pkce_challenge_is_the_rfc_7636_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(
    ("fields", "expected", "problem"),
    [
        (("27", "3", "2031"), date(2031, 3, 27), None),
        ((" 1 ", "01", "2031"), date(2031, 1, 1), None),
        (("", "", ""), None, "Enter the date their help ends"),
        (("1", "", "2031"), None, "must include a month"),
        (("", "2", ""), None, "must include a day"),
        (("31", "2", "2031"), None, "must be a real date"),
        (("1", "13", "2031"), None, "must be a real date"),
        (("1", "2", "31"), None, "must be a real date"),
        (("x", "2", "2031"), None, "must be a real date"),
        (("-1", "2", "2031"), None, "must be a real date"),
    ],
)
def test_a_date_typed_in_three_boxes_is_read_or_explained(
    fields: tuple[str, str, str], expected: date | None, problem: str | None
) -> None:
    day, message = parse_day(*fields)
    assert day == expected
    if problem is None:
        assert message is None
    else:
        assert message is not None and problem in message


def test_help_until_a_day_lasts_all_of_that_day() -> None:
    assert end_of_day(date(2031, 3, 27)) == datetime(2031, 3, 28, tzinfo=UTC)
    assert end_of_day(date(2031, 12, 31)) - timedelta(seconds=1) == datetime(
        2031, 12, 31, 23, 59, 59, tzinfo=UTC
    )
