"""Finding D1: signing out ends a session on the server, not only in the browser that signed out.

A copy of the session cookie (taken from a shared computer, a proxy log, malware) must stop
working the moment the person signs out, signs out everywhere, signs in again, or leaves the
session unused; the database row behind the cookie decides, on every node.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digitalstate.web.models import WebSession
from digitalstate.web.session import session_cookie_name
from digitalstate.web.session_store import SqlSessionStore
from integration.identity_support import (
    CHARTER_ID,
    RP_ID,
    App,
    Federation,
    csrf_of,
    query_of,
    start_federation,
)
from support.fixtures import ALICE, BOB


@pytest.fixture
def fed(tmp_path: Path, migrated_database_url: str) -> Iterator[Federation]:
    yield from start_federation(tmp_path, migrated_database_url, with_rp=True)


def cookie_of(app: App) -> str:
    """The browser's copy of the node's session cookie."""
    value = app.client.cookies.get(session_cookie_name(app.settings.node.id))
    assert value, "no session cookie"
    return value


def with_cookie(app: App, value: str) -> None:
    """Make the browser hold value as its session cookie, as an attacker with a copy would."""
    app.client.cookies.clear()
    app.client.cookies.set(session_cookie_name(app.settings.node.id), value)


def is_signed_in_at_charter(fed: Federation) -> bool:
    return fed.charter.get("/my").status_code == 200


def sign_out_at_charter(fed: Federation) -> None:
    answer = fed.charter.post("/sign-out", data={"csrf_token": csrf_of(fed.charter.get("/my"))})
    assert answer.status_code == 200, answer.text


def sign_in_at_rp(fed: Federation, email: str) -> None:
    """Sign in at liverpool-pensions through the charter, signing in there first."""
    at_rp = fed.rp.get("/auth/sign-in", params={"next": "/test/whoami"})
    at_charter = fed.charter.get(at_rp.headers["location"])
    back = fed.sign_in_at_charter(email, next_path=query_of(at_charter.headers["location"])["next"])
    callback = fed.charter.get(back).headers["location"]
    assert fed.rp.get(callback).status_code == 303


def store_of(app: App) -> SqlSessionStore:
    store: SqlSessionStore = app.app.state.session_store
    return store


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta.total_seconds()


@pytest.fixture
def clock(fed: Federation) -> Clock:
    clock = Clock()
    store_of(fed.charter).clock = clock
    store_of(fed.rp).clock = clock
    return clock


def test_a_charter_cookie_copied_before_sign_out_is_refused_after_it(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    copied = cookie_of(fed.charter)

    sign_out_at_charter(fed)
    with_cookie(fed.charter, copied)

    assert not is_signed_in_at_charter(fed)


def test_a_service_node_cookie_copied_before_sign_out_is_refused_after_it(
    fed: Federation, alice: str
) -> None:
    sign_in_at_rp(fed, ALICE)
    assert fed.rp.get("/test/whoami").status_code == 200
    copied = cookie_of(fed.rp)
    token = fed.rp.get("/test/csrf").json()["token"]

    assert fed.rp.post("/auth/sign-out", data={"csrf_token": token}).status_code == 200
    with_cookie(fed.rp, copied)

    assert fed.rp.get("/test/whoami").status_code == 303


def test_sign_out_everywhere_ends_every_other_session_of_the_person(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    other_browser = cookie_of(fed.charter)
    fed.charter.client.cookies.clear()
    fed.sign_in_at_charter(ALICE)
    account = fed.charter.get("/my")
    assert "Sign out everywhere" in account.text

    answer = fed.charter.post("/my/sign-out-everywhere", data={"csrf_token": csrf_of(account)})

    assert answer.status_code == 200
    assert "on every device and browser" in answer.text
    assert not is_signed_in_at_charter(fed)
    with_cookie(fed.charter, other_browser)
    assert not is_signed_in_at_charter(fed)


def test_sign_out_everywhere_leaves_other_peoples_sessions_alone(
    fed: Federation, alice: str
) -> None:
    fed.add_person(BOB, "Bob Builder")
    fed.sign_in_at_charter(BOB)
    bobs = cookie_of(fed.charter)
    fed.charter.client.cookies.clear()
    fed.sign_in_at_charter(ALICE)
    account = fed.charter.get("/my")

    fed.charter.post("/my/sign-out-everywhere", data={"csrf_token": csrf_of(account)})
    with_cookie(fed.charter, bobs)

    assert is_signed_in_at_charter(fed)


def test_sign_out_everywhere_needs_the_csrf_token(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    assert fed.charter.post("/my/sign-out-everywhere", data={}).status_code == 403
    assert is_signed_in_at_charter(fed)


def test_a_session_unused_for_the_idle_timeout_ends(
    fed: Federation, alice: str, clock: Clock
) -> None:
    idle = store_of(fed.charter).idle
    assert idle == timedelta(minutes=30)  # the default of [web] session_idle_minutes
    fed.sign_in_at_charter(ALICE)
    clock.advance(idle - timedelta(minutes=2))
    assert is_signed_in_at_charter(fed)  # in use: the idle time starts again
    clock.advance(idle - timedelta(minutes=2))
    assert is_signed_in_at_charter(fed)

    clock.advance(idle + timedelta(seconds=1))

    assert not is_signed_in_at_charter(fed)


def test_a_session_in_use_ends_at_the_absolute_timeout(
    fed: Federation, alice: str, clock: Clock
) -> None:
    store = store_of(fed.charter)
    assert store.absolute == timedelta(hours=8)  # the default of [web] session_hours
    fed.sign_in_at_charter(ALICE)
    step = store.idle - timedelta(minutes=1)
    used = timedelta()
    while used + step < store.absolute:
        clock.advance(step)
        used += step
        assert is_signed_in_at_charter(fed)

    clock.advance(store.absolute - used + timedelta(seconds=1))

    assert not is_signed_in_at_charter(fed)


def test_a_service_node_session_ends_after_the_idle_timeout(
    fed: Federation, alice: str, clock: Clock
) -> None:
    sign_in_at_rp(fed, ALICE)
    assert fed.rp.get("/test/whoami").status_code == 200

    clock.advance(store_of(fed.rp).idle + timedelta(seconds=1))

    assert fed.rp.get("/test/whoami").status_code == 303


def test_a_session_cookie_from_before_sign_in_is_replaced_at_sign_in(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    planted = cookie_of(fed.charter)  # the attacker's own signed-in session, planted in a browser
    fed.sign_in_at_charter(ALICE)  # the victim signs in in that browser

    assert cookie_of(fed.charter) != planted
    assert is_signed_in_at_charter(fed)
    with_cookie(fed.charter, planted)
    assert not is_signed_in_at_charter(fed)


def test_the_database_keeps_only_a_hash_of_the_session_id(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    with fed.charter.runtime.sessions.begin() as db:
        rows = list(db.scalars(select(WebSession)))

    assert [(row.kind, row.subject) for row in rows] == [("person", alice)]
    assert len(rows[0].id_hash) == 64
    assert rows[0].id_hash not in cookie_of(fed.charter)


def test_a_page_within_a_minute_of_the_last_does_not_write_to_the_session_row(
    fed: Federation, alice: str, clock: Clock
) -> None:
    fed.sign_in_at_charter(ALICE)
    clock.advance(timedelta(seconds=59))
    assert is_signed_in_at_charter(fed)
    assert last_seen_after_sign_in(fed) == timedelta()

    clock.advance(timedelta(seconds=2))
    assert is_signed_in_at_charter(fed)

    assert last_seen_after_sign_in(fed) == timedelta(seconds=61)


def last_seen_after_sign_in(fed: Federation) -> timedelta:
    with fed.charter.runtime.sessions.begin() as db:
        row = db.scalars(select(WebSession)).one()
        return row.last_seen_at - row.created_at


def test_machine_paths_leave_the_session_alone(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    for node in (CHARTER_ID, RP_ID):
        answer = fed.apps[node].get("/healthz")
        assert answer.status_code == 200
        assert "set-cookie" not in answer.headers
