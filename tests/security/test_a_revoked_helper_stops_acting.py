"""A helper's session for someone at another node ends with the delegation, within a bound.

Security review finding (high): a helper signed in at a register or service node for a person
kept acting for them after the person stopped the help, until the session timed out (8 h).
Now the charter puts the delegation's end in the ID token (act_until) and checks the
delegation again when it issues the token; the node ends an acting session at that end, or
[web] acting_session_minutes (10) after sign-in, whichever is first. After that the helper
has to sign in through the charter again, which refuses a stopped delegation.

liverpool-pensions (roles register and service) is the node; its /test/whoami sits behind the
same require_subject as a register's /my/details. The node's session clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digitalstate.identity.pseudonyms import load_or_create_secret, pseudonym
from digitalstate.identity.service import grant_delegation
from digitalstate.web.session_store import SqlSessionStore
from integration.identity_support import RP_ID, Federation, csrf_of, query_of, start_federation
from support.fixtures import ALICE

CHIDI = "chidi@example.test"
ACTING = timedelta(minutes=10)  # [web] acting_session_minutes, by default


class Clock:
    """The node's session clock, moved by the test (seconds since the epoch)."""

    def __init__(self) -> None:
        self.start = time.time()
        self.now = self.start

    def __call__(self) -> float:
        """The time now, as the test has set it."""
        return self.now

    def at(self, delta: timedelta) -> datetime:
        """The time delta after the clock's start."""
        return datetime.fromtimestamp(self.start, UTC) + delta

    def advance_to(self, delta: timedelta) -> None:
        """Set the clock to delta after its start."""
        self.now = self.start + delta.total_seconds()


@pytest.fixture
def fed(tmp_path: Path, migrated_database_url: str) -> Iterator[Federation]:
    yield from start_federation(tmp_path, migrated_database_url, with_rp=True)


@pytest.fixture
def clock(fed: Federation) -> Clock:
    moved = Clock()
    store: SqlSessionStore = fed.rp.app.state.session_store
    store.clock = moved
    return moved


@pytest.fixture
def chidi(fed: Federation) -> str:
    return fed.add_person(CHIDI, "Chidi Anagonye")


def let_chidi_help(fed: Federation, alice: str, ends: datetime) -> str:
    """Alice lets Chidi sign in for her until ends; the delegation's id."""
    with fed.charter.runtime.sessions.begin() as session:
        delegation = grant_delegation(
            session,
            person_id=alice,
            helper_email=CHIDI,
            scope="sign-in",
            expires_at=ends,
            now=datetime.now(UTC),
        )
        assert delegation is not None
        return delegation.id


def at_the_node(fed: Federation) -> str:
    """Start signing in at the node; the charter's authorization address."""
    answer = fed.rp.get("/auth/sign-in", params={"next": "/test/whoami"})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def chidi_chooses(fed: Federation, act_as: str) -> httpx.Response:
    """Chidi, signed in at the charter, signs in at the node as act_as (a delegation id)."""
    authorize_url = at_the_node(fed)
    page = fed.charter.get(authorize_url)
    form = {**query_of(authorize_url), "csrf_token": csrf_of(page), "act_as": act_as}
    return fed.charter.post("/oidc/authorize", data=form)


def sign_chidi_in_for_alice(fed: Federation, delegation_id: str) -> None:
    """Chidi signs in at the node acting for Alice."""
    fed.sign_in_at_charter(CHIDI)
    chosen = chidi_chooses(fed, delegation_id)
    assert chosen.status_code == 302, chosen.text
    assert fed.rp.get(chosen.headers["location"]).status_code == 303


def at_node(fed: Federation, person_id: str) -> str:
    return pseudonym(load_or_create_secret(fed.charter.settings.data_dir), RP_ID, person_id)


def reads_alices_page(fed: Federation, alice: str) -> bool:
    """True when the node's person page answers, for Alice."""
    answer = fed.rp.get("/test/whoami")
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/auth/sign-in")
        return False
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["sub"] == at_node(fed, alice))


def alice_stops_chidi(fed: Federation, delegation_id: str) -> None:
    """Alice stops Chidi's help on her helpers page at the charter."""
    fed.sign_in_at_charter(ALICE)
    token = csrf_of(fed.charter.get("/my/helpers"))
    answer = fed.charter.post(f"/my/helpers/{delegation_id}/revoke", data={"csrf_token": token})
    assert answer.status_code == 303, answer.text


def test_a_helper_stops_reading_the_persons_page_when_the_delegation_ends(
    fed: Federation, alice: str, chidi: str, clock: Clock
) -> None:
    delegation_id = let_chidi_help(fed, alice, clock.at(timedelta(minutes=5)))
    sign_chidi_in_for_alice(fed, delegation_id)

    clock.advance_to(timedelta(minutes=4, seconds=59))
    assert reads_alices_page(fed, alice)
    clock.advance_to(timedelta(minutes=5))
    assert not reads_alices_page(fed, alice)


def test_a_helper_stops_reading_the_persons_page_after_the_acting_lifetime(
    fed: Federation, alice: str, chidi: str, clock: Clock
) -> None:
    delegation_id = let_chidi_help(fed, alice, clock.at(timedelta(days=30)))
    sign_chidi_in_for_alice(fed, delegation_id)

    clock.advance_to(ACTING - timedelta(seconds=1))
    assert reads_alices_page(fed, alice)
    clock.advance_to(ACTING)
    assert not reads_alices_page(fed, alice)


def test_a_persons_own_session_is_not_cut_to_the_acting_lifetime(
    fed: Federation, alice: str, clock: Clock
) -> None:
    fed.sign_in_at_charter(ALICE)
    callback = fed.charter.get(at_the_node(fed)).headers["location"]
    assert fed.rp.get(callback).status_code == 303

    for minutes in (9, 18, 27):  # used within the idle timeout, past the acting lifetime
        clock.advance_to(timedelta(minutes=minutes))
        assert reads_alices_page(fed, alice)


def test_a_helper_stopped_by_the_person_cannot_sign_in_as_them_again(
    fed: Federation, alice: str, chidi: str, clock: Clock
) -> None:
    delegation_id = let_chidi_help(fed, alice, clock.at(timedelta(days=30)))
    sign_chidi_in_for_alice(fed, delegation_id)
    alice_stops_chidi(fed, delegation_id)
    clock.advance_to(ACTING)
    assert not reads_alices_page(fed, alice)

    fed.sign_in_at_charter(CHIDI)
    authorize_url = at_the_node(fed)
    as_himself = fed.charter.get(authorize_url)  # no one left to choose: he is only himself
    assert as_himself.status_code == 302, as_himself.text
    assert fed.rp.get(as_himself.headers["location"]).status_code == 303
    assert fed.rp.get("/test/whoami").json() == {
        "sub": at_node(fed, chidi),
        "acr": "urn:digitalstate:loa:low",
        "acting_for": None,
    }
    form = {**query_of(authorize_url), "csrf_token": csrf_of(fed.charter.get("/my"))}
    named = fed.charter.post("/oidc/authorize", data={**form, "act_as": delegation_id})
    assert named.status_code == 400  # naming the stopped delegation: asked to choose again
    assert "Alice Example" not in named.text


def test_a_code_issued_before_the_person_stops_the_help_gives_no_session_after(
    fed: Federation, alice: str, chidi: str, clock: Clock
) -> None:
    delegation_id = let_chidi_help(fed, alice, clock.at(timedelta(days=30)))
    fed.sign_in_at_charter(CHIDI)
    chosen = chidi_chooses(fed, delegation_id)
    assert chosen.status_code == 302, chosen.text
    alice_stops_chidi(fed, delegation_id)

    answer = fed.rp.get(chosen.headers["location"])

    assert answer.status_code == 400
    assert "You have not been signed in" in answer.text
    assert not reads_alices_page(fed, alice)
