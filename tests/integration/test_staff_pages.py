"""Staff at a service node in-process: sign-in, sign-out, sessions, roles and what is logged.

On SQLite and PostgreSQL. Each test drives the real node app through its pages, as a browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from digitalstate.staff.domain import UNKNOWN_REQUESTER, staff_requester
from digitalstate.staff.service import disable_staff, set_role
from digitalstate.transparency.entries import NO_ONE
from security.signin_support import without_tokens

from .staff_support import (
    CASEWORKER,
    MANAGER,
    MANAGERS_PAGE,
    PASSWORD,
    StaffNode,
    csrf_of,
    start_staff_node,
)

WRONG = "not the password at all"
NOBODY = "nobody@pensions.example.org"


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[StaffNode]:
    yield from start_staff_node(tmp_path, migrated_database_url)


@pytest.fixture
def jo(node: StaffNode) -> str:
    """Jo, a caseworker at Liverpool: pensions; their account id."""
    return node.add_staff(CASEWORKER, "caseworker", "Jo Bloggs")


# signing in ----------------------------------------------------------------------------------


def test_the_staff_home_sends_a_browser_without_a_staff_session_to_sign_in(
    node: StaffNode,
) -> None:
    answer = node.get("/staff")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/sign-in?next=%2Fstaff"

    page = node.get("/staff/sign-in")
    assert page.status_code == 200
    assert '<form method="post" action="/staff/sign-in"' in page.text
    assert csrf_of(page)
    assert "govuk-error-summary" not in page.text


def test_the_right_password_signs_in_and_the_home_says_who_and_which_role(
    node: StaffNode, jo: str
) -> None:
    answer = node.sign_in_form(email="  Jo.Caseworker@Pensions.example.ORG ", password=PASSWORD)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("ds-liverpool-pensions.staff=")
    assert "path=/staff;" in cookie
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "Max-Age=32400" in cookie  # [staff] session_hours, 9 by default
    home = node.get("/staff")
    assert home.status_code == 200
    assert "Jo Bloggs" in home.text
    assert CASEWORKER in home.text
    assert "Caseworker" in home.text
    assert '<form method="post" action="/staff/sign-out">' in home.text


def test_sign_in_goes_on_to_the_staff_page_asked_for_and_nowhere_else(
    node: StaffNode, jo: str
) -> None:
    answer = node.sign_in_form("/staff?tab=1", email=CASEWORKER, password=PASSWORD)
    assert answer.headers["location"] == "/staff?tab=1"
    for elsewhere in ("/service", "/staffing", "https://evil.example/staff", "//evil.example"):
        answer = node.sign_in_form(elsewhere, email=CASEWORKER, password=PASSWORD)
        assert answer.headers["location"] == "/staff", elsewhere


def test_empty_fields_are_named_in_the_error_summary_linking_to_each_field(
    node: StaffNode,
) -> None:
    answer = node.sign_in_form(email="", password="")

    assert answer.status_code == 400
    assert "<title>Error: Staff sign in" in answer.text
    assert 'href="#email">Enter your email address</a>' in answer.text
    assert 'href="#password">Enter your password</a>' in answer.text
    assert 'id="email-error"' in answer.text and 'id="password-error"' in answer.text


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    node: StaffNode, jo: str
) -> None:
    known = node.sign_in_form(email=CASEWORKER, password=WRONG)
    unknown = node.sign_in_form(email=NOBODY, password=WRONG)

    assert known.status_code == unknown.status_code == 400
    assert "Enter a correct email address and password" in known.text
    assert without_tokens(known.text, CASEWORKER) == without_tokens(unknown.text, NOBODY)
    assert not node.is_signed_in_as_staff()


def test_five_failures_lock_the_account_until_the_lock_ends(node: StaffNode, jo: str) -> None:
    for _ in range(5):
        assert node.sign_in_form(email=CASEWORKER, password=WRONG).status_code == 400

    locked = node.sign_in_form(email=CASEWORKER, password=PASSWORD)

    assert locked.status_code == 429
    assert "Too many attempts. Try again in 1 minute" in locked.text
    assert not node.is_signed_in_as_staff()
    node.clock.advance(seconds=61)
    assert node.sign_in_form(email=CASEWORKER, password=PASSWORD).status_code == 303


def test_a_sign_in_that_finds_every_password_check_slot_taken_gets_a_busy_page(
    node: StaffNode, jo: str
) -> None:
    guard = node.running.app.state.staff_sign_in_guard
    guard.settings = guard.settings.model_copy(update={"password_wait_seconds": 0})
    form = {"csrf_token": csrf_of(node.get("/staff/sign-in")), "email": CASEWORKER}

    async def while_every_slot_is_taken() -> httpx.Response:
        async with AsyncExitStack() as held:
            for _ in range(guard.settings.password_checks_at_once):
                await held.enter_async_context(guard.password_slot())
            return await node.http.post("/staff/sign-in", data={**form, "password": PASSWORD})

    answer = node.running.http.run(while_every_slot_is_taken())

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    assert "Sorry, the service is busy" in answer.text
    assert node.entries() == []  # no password was checked


def test_a_disabled_account_cannot_sign_in_and_its_session_ends(node: StaffNode, jo: str) -> None:
    node.sign_in(CASEWORKER)
    with node.running.runtime.sessions.begin() as db:
        _, ended = disable_staff(db, CASEWORKER, node.clock())
    assert ended == 1

    assert not node.is_signed_in_as_staff()
    refused = node.sign_in_form(email=CASEWORKER, password=PASSWORD)
    assert refused.status_code == 400
    assert "Enter a correct email address and password" in refused.text


def test_a_sign_in_without_the_csrf_token_is_refused_and_not_processed(
    node: StaffNode, jo: str
) -> None:
    answer = node.post("/staff/sign-in", data={"email": CASEWORKER, "password": PASSWORD})

    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert not node.is_signed_in_as_staff()
    assert node.entries() == []


def test_the_peoples_csrf_token_does_not_pass_a_staff_form(node: StaffNode, jo: str) -> None:
    node.sign_in_person()
    peoples = node.get("/test/csrf").json()["token"]

    answer = node.post(
        "/staff/sign-in", data={"csrf_token": peoples, "email": CASEWORKER, "password": PASSWORD}
    )

    assert answer.status_code == 403
    assert not node.is_signed_in_as_staff()


# signing out and the session's life ----------------------------------------------------------


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(
    node: StaffNode, jo: str
) -> None:
    node.sign_in(CASEWORKER)
    copied = node.cookie(node.staff_cookie_name)

    answer = node.sign_out()

    assert answer.status_code == 200
    assert "You have signed out" in answer.text
    assert 'href="/staff/sign-in"' in answer.text
    assert not node.is_signed_in_as_staff()
    node.holding_only(node.staff_cookie_name, copied, path="/staff")
    assert not node.is_signed_in_as_staff()


def test_signing_out_needs_the_csrf_token(node: StaffNode, jo: str) -> None:
    node.sign_in(CASEWORKER)
    assert node.post("/staff/sign-out", data={}).status_code == 403
    assert node.is_signed_in_as_staff()


def test_signing_in_starts_a_new_session_and_csrf_token_each_time(node: StaffNode, jo: str) -> None:
    before = csrf_of(node.get("/staff/sign-in"))
    node.sign_in(CASEWORKER)
    first, copied = node.staff_session_id(), node.cookie(node.staff_cookie_name)
    assert csrf_of(node.get("/staff")) != before

    node.sign_in(CASEWORKER)

    assert node.staff_session_id() != first
    assert node.is_signed_in_as_staff()
    node.holding_only(node.staff_cookie_name, copied, path="/staff")
    assert not node.is_signed_in_as_staff()  # the session the cookie had ended at the sign-in


@pytest.fixture
def short(tmp_path: Path, migrated_database_url: str) -> Iterator[StaffNode]:
    extra = {"staff": {"session_hours": 0.5, "session_idle_minutes": 20}}
    yield from start_staff_node(tmp_path, migrated_database_url, extra=extra)


def test_a_staff_session_idles_out_and_ends_at_its_absolute_timeout(short: StaffNode) -> None:
    short.add_staff(CASEWORKER)
    short.sign_in(CASEWORKER)
    short.clock.advance(minutes=20, seconds=1)
    assert not short.is_signed_in_as_staff()

    short.sign_in(CASEWORKER)
    for _ in range(2):  # used every 19 minutes: never idle for 20, but half an hour passes
        assert short.is_signed_in_as_staff()
        short.clock.advance(minutes=19)
    assert not short.is_signed_in_as_staff()


# staff and people never share a session ------------------------------------------------------


def test_a_persons_session_never_opens_a_staff_page(node: StaffNode, jo: str) -> None:
    node.sign_in_person()
    assert node.is_signed_in_as_a_person()
    assert not node.is_signed_in_as_staff()

    # Nor does the person's cookie under the staff cookie's name: sealed under another key.
    node.holding_only(node.staff_cookie_name, node.cookie(node.people_cookie_name), "/staff")
    assert not node.is_signed_in_as_staff()


def test_a_staff_session_never_counts_as_a_persons(node: StaffNode, jo: str) -> None:
    node.sign_in(CASEWORKER)
    assert not node.is_signed_in_as_a_person()  # the staff cookie is not sent outside /staff

    staff_id = node.staff_session_id()
    assert node.staff_store.find(staff_id) is not None
    assert node.people_store.find(staff_id) is None  # people's store finds no staff session

    node.holding_only(node.people_cookie_name, node.cookie(node.staff_cookie_name))
    assert not node.is_signed_in_as_a_person()


def test_a_person_and_a_member_of_staff_keep_their_sessions_side_by_side(
    node: StaffNode, jo: str
) -> None:
    node.sign_in_person()
    node.sign_in(CASEWORKER)
    assert node.is_signed_in_as_a_person() and node.is_signed_in_as_staff()

    node.sign_out()

    assert node.is_signed_in_as_a_person()
    assert not node.is_signed_in_as_staff()


# roles ---------------------------------------------------------------------------------------


def test_a_manager_page_refuses_a_caseworker_until_they_are_made_a_manager(
    node: StaffNode, jo: str
) -> None:
    node.add_staff(MANAGER, "manager", "Sam Manager")
    node.sign_in(CASEWORKER)

    refused = node.get(MANAGERS_PAGE)

    assert refused.status_code == 403
    assert "You cannot use this page" in refused.text
    assert "This page is for a manager. You are signed in as a caseworker." in refused.text
    with node.running.runtime.sessions.begin() as db:
        set_role(db, CASEWORKER, "manager")
    assert node.get(MANAGERS_PAGE).json() == {"email": CASEWORKER, "role": "manager"}

    node.sign_in(MANAGER)
    assert node.get(MANAGERS_PAGE).json() == {"email": MANAGER, "role": "manager"}
    assert "Manager" in node.get("/staff").text


def test_a_manager_page_sends_a_browser_without_a_staff_session_to_sign_in(
    node: StaffNode,
) -> None:
    answer = node.get(MANAGERS_PAGE)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/sign-in?next=%2Fstaff%2Ftest%2Fmanagers"


# what the log keeps --------------------------------------------------------------------------


def test_every_sign_in_failed_sign_in_and_sign_out_is_a_log_entry(node: StaffNode, jo: str) -> None:
    node.sign_in_form(email=CASEWORKER, password=WRONG)
    node.sign_in_form(email=NOBODY, password=WRONG)
    node.sign_in(CASEWORKER)
    node.sign_out()
    again = node.post(  # no session left to end: no entry
        "/staff/sign-out", data={"csrf_token": csrf_of(node.get("/staff/sign-in"))}
    )
    assert again.status_code == 200
    with node.running.runtime.sessions.begin() as db:
        disable_staff(db, CASEWORKER, node.clock())
    node.sign_in_form(email=CASEWORKER, password=PASSWORD)

    entries = node.entries()

    said = [(e.action, e.requester, e.outcome, e.reason) for e in entries]
    jo_requester = staff_requester(jo)
    assert said == [
        ("staff-sign-in-failed", jo_requester, "refused", "wrong password"),
        ("staff-sign-in-failed", UNKNOWN_REQUESTER, "refused", "no account has this email address"),
        ("staff-signed-in", jo_requester, "allowed", "caseworker"),
        ("staff-signed-out", jo_requester, "recorded", ""),
        ("staff-sign-in-failed", jo_requester, "refused", "the account is disabled"),
    ]
    assert {(e.holder, e.pseudonym, e.purpose, e.fields) for e in entries} == {
        (node.member_id, NO_ONE, None, ())
    }
    assert all(CASEWORKER not in e.encode().decode() for e in entries)  # no email in the log
