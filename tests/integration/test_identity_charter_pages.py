"""The charter's own pages in-process: sign-in, sign-out, the account home and helpers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from support.fixtures import ALICE, BOB

from .identity_support import (
    CHARTER_ID,
    PASSWORD,
    Federation,
    add_helper,
    csrf_of,
    delegations,
    is_signed_in,
    sign_in_form,
    start_federation,
)


@pytest.fixture
def fed(tmp_path: Path, migrated_database_url: str) -> Iterator[Federation]:
    yield from start_federation(tmp_path, migrated_database_url)


# sign-in -----------------------------------------------------------------------------------


def test_the_sign_in_page_is_a_form_with_a_csrf_token(fed: Federation) -> None:
    page = fed.charter.get("/sign-in")

    assert page.status_code == 200
    assert '<form method="post" action="/sign-in"' in page.text
    assert csrf_of(page)
    assert 'name="email"' in page.text
    assert 'type="password"' in page.text
    assert "govuk-error-summary" not in page.text


def test_the_right_password_signs_in_and_goes_to_the_account(fed: Federation, alice: str) -> None:
    answer = sign_in_form(fed, email=ALICE, password=PASSWORD)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/my"
    assert is_signed_in(fed)


def test_an_email_address_is_matched_whatever_its_case(fed: Federation, alice: str) -> None:
    answer = sign_in_form(fed, email="  Alice@Example.TEST ", password=PASSWORD)
    assert answer.status_code == 303


def test_sign_in_goes_on_to_the_page_asked_for(fed: Federation, alice: str) -> None:
    assert fed.sign_in_at_charter(ALICE, next_path="/my/helpers?x=1") == "/my/helpers?x=1"


@pytest.mark.parametrize(
    "next_path",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "my"],
)
def test_a_next_address_off_this_node_is_ignored(
    fed: Federation, alice: str, next_path: str
) -> None:
    assert fed.sign_in_at_charter(ALICE, next_path=next_path) == "/my"


def test_empty_fields_are_named_in_the_error_summary_and_beside_each_field(
    fed: Federation,
) -> None:
    answer = sign_in_form(fed, email="", password="")

    assert answer.status_code == 400
    assert "<title>Error: Sign in" in answer.text
    assert "govuk-error-summary" in answer.text
    assert '<a href="#email">Enter your email address</a>' in answer.text
    assert '<a href="#password">Enter your password</a>' in answer.text
    assert answer.text.count("govuk-error-message") == 2


@pytest.mark.parametrize(
    ("email", "password"), [(ALICE, "wrong password"), ("nobody@example.test", PASSWORD)]
)
def test_a_wrong_combination_says_enter_a_correct_email_address_and_password(
    fed: Federation, alice: str, email: str, password: str
) -> None:
    answer = sign_in_form(fed, email=email, password=password)

    assert answer.status_code == 400
    assert answer.text.count("Enter a correct email address and password") == 3  # summary, 2 fields
    assert f'value="{email}"' in answer.text
    assert password not in answer.text
    assert not is_signed_in(fed)


def test_a_sign_in_without_the_csrf_token_is_refused_and_not_processed(
    fed: Federation, alice: str
) -> None:
    fed.charter.get("/sign-in")
    answer = fed.charter.post("/sign-in", data={"email": ALICE, "password": PASSWORD})

    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "govuk-error-summary" in answer.text
    assert "This form has expired. Go back, refresh the page and try again." in answer.text
    assert not is_signed_in(fed)


def test_a_sign_in_with_another_session_token_is_refused(fed: Federation, alice: str) -> None:
    token = csrf_of(fed.charter.get("/sign-in"))
    fed.charter.client.cookies.clear()
    fed.charter.get("/sign-in")

    answer = fed.charter.post(
        "/sign-in", data={"csrf_token": token, "email": ALICE, "password": PASSWORD}
    )

    assert answer.status_code == 403
    assert not is_signed_in(fed)


def test_signing_in_gives_a_new_csrf_token(fed: Federation, alice: str) -> None:
    before = csrf_of(fed.charter.get("/sign-in"))
    fed.sign_in_at_charter(ALICE)
    after = csrf_of(fed.charter.get("/my"))
    assert before != after


def test_the_session_cookie_is_named_for_the_node_http_only_lax_and_secure(
    fed: Federation, alice: str
) -> None:
    page = fed.charter.get("/sign-in")
    answer = fed.charter.post(
        "/sign-in", data={"csrf_token": csrf_of(page), "email": ALICE, "password": PASSWORD}
    )

    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"ds-{CHARTER_ID}=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert "secure" in cookie.lower()
    assert "Max-Age=28800" in cookie


def test_machine_paths_set_no_session_cookie(fed: Federation) -> None:
    for path in ("/healthz", "/.well-known/openid-configuration"):
        assert "set-cookie" not in fed.charter.get(path).headers


# sign-out and the account page -------------------------------------------------------------


def test_the_account_needs_a_sign_in_and_comes_back_to_it(fed: Federation) -> None:
    answer = fed.charter.get("/my/helpers")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fmy%2Fhelpers"


def test_the_account_page_links_consents_activity_and_helpers(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    page = fed.charter.get("/my")

    assert page.status_code == 200
    assert "Alice Example" in page.text
    assert 'href="/my/consents">Your consents</a>' in page.text
    assert 'href="/my/activity">Who has seen your data</a>' in page.text
    assert 'href="/my/helpers">People who can act for you</a>' in page.text


def test_signing_out_ends_the_session(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    token = csrf_of(fed.charter.get("/my"))

    answer = fed.charter.post("/sign-out", data={"csrf_token": token})

    assert answer.status_code == 200
    assert "You have signed out" in answer.text
    assert not is_signed_in(fed)


def test_signing_out_needs_the_csrf_token(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    assert fed.charter.post("/sign-out", data={}).status_code == 403
    assert is_signed_in(fed)


@pytest.fixture
def short_sessions(
    tmp_path: Path, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Federation]:
    monkeypatch.setenv("DIGITALSTATE_WEB__SESSION_HOURS", "0.5")
    monkeypatch.setenv("DIGITALSTATE_WEB__SESSION_IDLE_MINUTES", "20")
    yield from start_federation(tmp_path, migrated_database_url)


def test_a_sign_in_lasts_session_hours_and_idles_session_idle_minutes(
    short_sessions: Federation,
) -> None:
    fed = short_sessions
    fed.add_person(ALICE, "Alice Example")
    now = [time.time()]
    fed.charter.app.state.session_store.clock = lambda: now[0]
    fed.sign_in_at_charter(ALICE)
    for _ in range(2):  # used every 19 minutes: never idle for 20, but half an hour passes
        assert is_signed_in(fed)
        now[0] += 19 * 60

    assert not is_signed_in(fed)
    fed.sign_in_at_charter(ALICE)
    now[0] += 20 * 60 + 1
    assert not is_signed_in(fed)


# helpers -----------------------------------------------------------------------------------


def test_a_person_lets_a_helper_act_for_them(fed: Federation, alice: str, bob: str) -> None:
    fed.sign_in_at_charter(ALICE)

    answer = add_helper(fed)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/my/helpers"
    page = fed.charter.get("/my/helpers")
    assert "govuk-notification-banner--success" in page.text
    assert f"If {BOB} has an account, they can now act for you" in page.text
    assert f'<td class="govuk-table__cell">{BOB}</td>' in page.text
    assert "Bob Builder" not in page.text  # by the email typed only: the same with no account
    assert "Give and withdraw consents for you" in page.text
    assert "Use services for you" in page.text
    (delegation,) = delegations(fed)
    assert (delegation.person_id, delegation.helper_id) == (alice, bob)
    assert delegation.scope == "consent sign-in"
    end = date.today() + timedelta(days=31)
    assert delegation.expires_at == datetime(end.year, end.month, end.day, tzinfo=UTC)


def test_the_helper_sees_whom_they_can_act_for(fed: Federation, alice: str, bob: str) -> None:
    fed.sign_in_at_charter(ALICE)
    add_helper(fed)
    fed.sign_in_at_charter(BOB)

    page = fed.charter.get("/my")

    assert "People you can act for" in page.text
    assert "Alice Example" in page.text


def test_an_empty_helper_form_names_every_missing_answer(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)

    answer = add_helper(
        fed, email="", scope=[], **{"expires-day": "", "expires-month": "", "expires-year": ""}
    )

    assert answer.status_code == 400
    assert (
        '<a href="#email">Enter the email address of the person who will help you</a>'
        in answer.text
    )
    assert '<a href="#scope">Select what they can do for you</a>' in answer.text
    assert '<a href="#expires-day">Enter the date their help ends</a>' in answer.text
    assert delegations(fed) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": ALICE}, "Enter the email address of someone else"),
        (
            {"expires-day": "31", "expires-month": "2", "expires-year": "2030"},
            "must be a real date",
        ),
        ({"expires-day": "1", "expires-month": "", "expires-year": "2030"}, "must include a month"),
        (
            {"expires-day": "1", "expires-month": "1", "expires-year": "2001"},
            "must be in the future",
        ),
        ({"scope": ["everything"]}, "Unknown kind of help: everything"),
    ],
)
def test_a_helper_that_cannot_be_added_is_explained(
    fed: Federation, alice: str, bob: str, fields: dict[str, str], message: str
) -> None:
    fed.sign_in_at_charter(ALICE)

    answer = add_helper(fed, **fields)

    assert answer.status_code == 400
    assert "govuk-error-summary" in answer.text
    assert message in answer.text
    assert delegations(fed) == []


def test_adding_a_helper_needs_the_csrf_token(fed: Federation, alice: str, bob: str) -> None:
    fed.sign_in_at_charter(ALICE)
    assert add_helper(fed, csrf_token="forged").status_code == 403
    assert delegations(fed) == []


def test_a_person_stops_a_helper(fed: Federation, alice: str, bob: str) -> None:
    fed.sign_in_at_charter(ALICE)
    add_helper(fed)
    (delegation,) = delegations(fed)
    token = csrf_of(fed.charter.get("/my/helpers"))

    answer = fed.charter.post(f"/my/helpers/{delegation.id}/revoke", data={"csrf_token": token})

    assert answer.status_code == 303
    page = fed.charter.get("/my/helpers")
    assert f"{BOB} can no longer act for you" in page.text
    assert "Stopped" in page.text
    (stopped,) = delegations(fed)
    assert stopped.revoked_at is not None


def test_stopping_a_helper_needs_the_csrf_token(fed: Federation, alice: str, bob: str) -> None:
    fed.sign_in_at_charter(ALICE)
    add_helper(fed)
    (delegation,) = delegations(fed)

    assert fed.charter.post(f"/my/helpers/{delegation.id}/revoke", data={}).status_code == 403
    assert delegations(fed)[0].revoked_at is None


def test_nobody_can_stop_a_helper_of_someone_else(fed: Federation, alice: str, bob: str) -> None:
    fed.sign_in_at_charter(ALICE)
    add_helper(fed)
    (delegation,) = delegations(fed)
    fed.sign_in_at_charter(BOB)
    token = csrf_of(fed.charter.get("/my/helpers"))

    fed.charter.post(f"/my/helpers/{delegation.id}/revoke", data={"csrf_token": token})

    assert delegations(fed)[0].revoked_at is None
