"""The rules of staff accounts: roles, addresses, names and passwords; and where their
sessions and sign-in failures are kept apart from people's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import sessionmaker

from digitalstate.identity.throttle import account_key
from digitalstate.staff.domain import (
    ROLES,
    StaffMember,
    email_problem,
    may_act_as,
    name_problem,
    password_problem,
    role_problem,
)
from digitalstate.web.session import SessionZone, session_cookie_name, zone_sealing_key
from digitalstate.web.session_store import KIND_STAFF, SqlSessionStore

EMAIL = "jo.bloggs@pensions.example.org"
NAME = "Jo Bloggs"


def weak(password: str) -> str | None:
    return password_problem(password, min_length=12, email=EMAIL, name=NAME)


def test_a_manager_may_do_all_a_caseworker_may_and_not_the_reverse() -> None:
    assert ROLES == ("caseworker", "manager")
    assert may_act_as("manager", "caseworker") and may_act_as("manager", "manager")
    assert may_act_as("caseworker", "caseworker") and not may_act_as("caseworker", "manager")
    assert may_act_as("caseworker", None) and may_act_as("manager", None)
    assert not may_act_as("admin", None) and not may_act_as("manager", "admin")


def test_a_role_outside_the_two_is_named_with_the_ones_there_are() -> None:
    assert role_problem("manager") is None
    assert role_problem("boss") == "'boss' is not a role; use one of caseworker, manager"


def test_a_member_of_staff_is_named_in_the_log_by_their_account_id() -> None:
    jo = StaffMember("0b7c", EMAIL, NAME, "caseworker")
    assert jo.requester == "staff:0b7c"
    assert jo.role_label == "Caseworker"


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        (EMAIL, None),
        ("", "the email address is empty"),
        ("jo", "'jo' is not an email address (name@example.org)"),
        ("@example.org", "'@example.org' is not an email address (name@example.org)"),
        ("jo@a@b", "'jo@a@b' is not an email address (name@example.org)"),
        ("jo bloggs@example.org", "'jo bloggs@example.org' holds spaces or control characters"),
        ("j" * 310 + "@example.org", "the email address is longer than 320 characters"),
    ],
)
def test_an_email_address_must_look_like_one(email: str, problem: str | None) -> None:
    assert email_problem(email) == problem


def test_a_name_must_be_there_short_and_printable() -> None:
    assert name_problem(NAME) is None
    assert name_problem("  ") == "the name is empty"
    assert name_problem("x" * 201) == "the name is longer than 200 characters"
    assert name_problem("Jo\x00") == "the name holds control characters"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("tangerine otter copper lantern", None),
        ("short words", "the password has 11 characters; use at least 12"),
        ("aaaaaaaaaaaaaaaa", "the password repeats too few different characters"),
        ("abababcabcabcabc", "the password repeats too few different characters"),
        ("Password1234", "the password is one of the first that guessers try"),
        ("abcdefghijklmn", "the password is one of the first that guessers try"),
        ("zyxwvutsrqponm", "the password is one of the first that guessers try"),
        ("my jo.bloggs@pensions.example.org", "the password holds the account's email address"),
        ("jo.bloggs-rules-ok", "the password holds the account's email address"),
        ("bloggs forever and ever", "the password holds the account's name"),
        ("x" * 1025, "the password is longer than 1024 characters"),
    ],
)
def test_a_weak_password_is_refused_saying_why(password: str, problem: str | None) -> None:
    assert weak(password) == problem


def test_staff_and_people_with_one_email_address_are_counted_apart() -> None:
    assert account_key(EMAIL) != account_key(EMAIL, "staff")
    assert account_key(" Jo.Bloggs@Pensions.example.org ", "staff") == account_key(EMAIL, "staff")


def test_a_zones_cookie_is_named_apart_from_every_members_own() -> None:
    assert session_cookie_name("liverpool-pensions") == "ds-liverpool-pensions"
    assert session_cookie_name("liverpool-pensions", "staff") == "ds-liverpool-pensions.staff"
    key = bytes(32)
    assert zone_sealing_key(key, "staff") != key
    assert zone_sealing_key(key, "staff") != zone_sealing_key(bytes([1]) * 32, "staff")
    assert len(zone_sealing_key(key, "staff")) == 32


def test_a_zone_covers_its_prefix_and_what_is_under_it_only() -> None:
    hour = timedelta(hours=1)
    store = SqlSessionStore(sessionmaker(), idle=hour, absolute=hour, kinds={KIND_STAFF})
    zone = SessionZone("staff", "/staff", store, max_age=60)
    assert zone.covers("/staff") and zone.covers("/staff/sign-in")
    assert not zone.covers("/staffing") and not zone.covers("/") and not zone.covers("/my")
