"""What is used once at a node is used once whichever of its workers sees it (issue 11).

The charter here runs two workers, as `node serve --workers 2` would: two runtimes and apps
over one database and one data directory, behind one load balancer (support.clients.Balancer),
on SQLite and PostgreSQL. A browser's request goes to the worker the test names, or to the
next in turn. An authorization code, a client assertion's jti, a session's end and a sign-in
lock taken at one worker hold at the other, as does an OpenID Connect nonce while a code
carries it; where two requests race, exactly one wins.
Signed requests' nonces have their own tests (test_replay_is_refused_after_a_restart.py), as
have the email outbox's claims (integration/test_mail_delivery.py), a consent request's
answer (integration/test_consent_service.py) and a service's submission token
(integration/test_services_journey.py). docs/security.md lists them all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from authlib.oauth2.rfc6749 import InvalidRequestError  # type: ignore[import-untyped]

from digitalstate.identity.models import AuthorizationCode
from digitalstate.identity.oidc import ASSERTION_LEEWAY_SECONDS, CharterServer
from digitalstate.identity.tokens import client_assertion
from integration.identity_support import (
    PASSWORD,
    PENSIONS,
    RP_ID,
    TOKEN_ENDPOINT,
    Federation,
    assert_token_error,
    authorize_params,
    authorize_path,
    code_for,
    csrf_of,
    is_signed_in,
    query_of,
    start_federation,
    token_form,
)
from support.clients import WORKER
from support.fixtures import ALICE

WRONG = "not the password"
AT_ONCE = 6  # requests raced against each other, alternating between the workers


@pytest.fixture
def fed(tmp_path: Path, migrated_database_url: str) -> Iterator[Federation]:
    """A charter running two workers, on SQLite and on PostgreSQL."""
    yield from start_federation(tmp_path, migrated_database_url, charter_workers=2)


def exchange(fed: Federation, form: dict[str, str], worker: int) -> httpx.Response:
    """Post a token request to one worker of the charter."""
    return fed.charter.post("/oidc/token", data=form, worker=worker)


def at_once(fed: Federation, forms: list[dict[str, str]]) -> list[httpx.Response]:
    """Post the token requests all at once, the nth to worker n % 2; their answers in order."""

    async def race() -> list[httpx.Response]:
        return await asyncio.gather(
            *(
                fed.charter.client.post("/oidc/token", data=form, extensions={WORKER: n % 2})
                for n, form in enumerate(forms)
            )
        )

    return fed.charter.loop.run(race())


def servers(fed: Federation) -> list[CharterServer]:
    """Each worker's authorization server."""
    return [app.state.oidc_server for _runtime, app in fed.charter.workers]


# authorization codes -------------------------------------------------------------------------


def test_a_code_issued_at_one_worker_gives_one_token_whichever_worker_it_reaches(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    code = code_for(fed, worker=0)

    assert exchange(fed, token_form(code), worker=1).status_code == 200
    assert_token_error(exchange(fed, token_form(code), worker=0), "invalid_grant")
    assert_token_error(exchange(fed, token_form(code), worker=1), "invalid_grant")


def test_one_code_sent_to_both_workers_at_once_gives_exactly_one_token(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    code = code_for(fed)

    answers = at_once(fed, [token_form(code) for _ in range(AT_ONCE)])

    assert sorted(a.status_code for a in answers) == [200] + [400] * (AT_ONCE - 1)
    for answer in answers:
        if answer.status_code != 200:
            assert_token_error(answer, "invalid_grant")


def test_a_nonce_in_a_live_code_from_one_worker_is_refused_at_the_other(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    code_for(fed, worker=0)

    answer = fed.charter.get(authorize_path(authorize_params()), worker=1)

    assert answer.status_code == 302, answer.text
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


def test_one_nonce_sent_to_both_workers_at_once_gets_exactly_one_code(
    fed: Federation, alice: str
) -> None:
    """Two authorization requests with one nonce at once: the unique key lets one code in."""
    fed.sign_in_at_charter(ALICE)
    path = authorize_path(authorize_params())

    async def race() -> list[httpx.Response]:
        return await asyncio.gather(
            *(fed.charter.client.get(path, extensions={WORKER: n % 2}) for n in range(AT_ONCE))
        )

    answers = fed.charter.loop.run(race())

    queries = [query_of(a.headers["location"]) for a in answers if a.status_code == 302]
    assert len(queries) == AT_ONCE, [a.status_code for a in answers]
    assert sorted("code" in q for q in queries) == [False] * (AT_ONCE - 1) + [True]
    assert all(q["error"] == "invalid_request" for q in queries if "code" not in q)


def test_a_nonce_both_workers_found_free_gets_one_code_whatever_the_timing(
    fed: Federation, alice: str
) -> None:
    """The race above, made certain: both workers have passed Authlib's read of the nonce
    (free at each), then each makes its code. The INSERT decides, not the read before it."""
    first, second = servers(fed)
    nonce = authorize_params()["nonce"]
    assert not first.nonce_in_use(RP_ID, nonce) and not second.nonce_in_use(RP_ID, nonce)

    def code(name: str) -> AuthorizationCode:
        return AuthorizationCode(
            code=name,
            client_id=RP_ID,
            person_id=alice,
            redirect_uri=authorize_params()["redirect_uri"],
            scope="openid",
            nonce=nonce,
            code_challenge=authorize_params()["code_challenge"],
            code_challenge_method="S256",
            auth_time=datetime.now(UTC),
        )

    first.save_code(code("code-at-worker-0"))
    with pytest.raises(InvalidRequestError) as refused:
        second.save_code(code("code-at-worker-1"))

    assert refused.value.description == "Replay attack"
    assert second.spend_code("code-at-worker-1", RP_ID) is None
    assert first.spend_code("code-at-worker-0", RP_ID) is not None


# client assertions (RFC 7523 jti) --------------------------------------------------------------


def test_a_client_assertion_used_at_one_worker_is_refused_at_the_other(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    assertion = client_assertion(RP_ID, PENSIONS, TOKEN_ENDPOINT)
    first = exchange(fed, token_form(code_for(fed), assertion=assertion), worker=0)
    assert first.status_code == 200, first.text

    code = code_for(fed, authorize_params(nonce="another-nonce"))
    again = exchange(fed, token_form(code, assertion=assertion), worker=1)

    assert "used before" in assert_token_error(again, "invalid_client")["error_description"]


def test_one_client_assertion_sent_to_both_workers_at_once_is_accepted_once(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    assertion = client_assertion(RP_ID, PENSIONS, TOKEN_ENDPOINT)
    codes = [code_for(fed, authorize_params(nonce=f"nonce-{n}")) for n in range(AT_ONCE)]
    forms = [token_form(code, assertion=assertion) for code in codes]

    answers = at_once(fed, forms)

    assert sorted(a.status_code for a in answers) == [200] + [400] * (AT_ONCE - 1)
    for answer in answers:
        if answer.status_code != 200:
            assert_token_error(answer, "invalid_client")


def test_an_assertion_id_is_kept_through_the_leeway_after_its_expiry_then_purged(
    fed: Federation,
) -> None:
    """Authlib accepts an assertion up to the leeway past its exp: its jti is kept as long."""
    first, second = servers(fed)
    exp = 1_000_000
    first.clock = lambda: exp - 60.0
    assert first.first_use_of_assertion(RP_ID, "jti-1", exp)

    second.clock = lambda: exp + ASSERTION_LEEWAY_SECONDS - 1.0  # still acceptable by its time
    assert not second.first_use_of_assertion(RP_ID, "jti-1", exp)
    assert second.first_use_of_assertion("newcastle-tax", "jti-1", exp), "another client's"

    # Past the leeway, and a further leeway for another worker's clock: the row is purged (the
    # assertion is refused on its exp alone by then).
    first.clock = lambda: exp + 2 * ASSERTION_LEEWAY_SECONDS + 1.0
    assert first.first_use_of_assertion(RP_ID, "jti-2", exp + 300)
    assert first.first_use_of_assertion(RP_ID, "jti-1", exp + 300)


# sessions, CSRF and the sign-in lock -----------------------------------------------------------


def test_a_session_begun_at_one_worker_is_served_and_ended_at_the_other(
    fed: Federation, alice: str
) -> None:
    page = fed.charter.get("/sign-in", worker=0)
    signed = fed.charter.post(
        "/sign-in",
        data={"csrf_token": csrf_of(page), "email": ALICE, "password": PASSWORD, "next": ""},
        worker=1,  # the form's CSRF token came from the other worker
    )
    assert signed.status_code == 303, signed.text
    assert fed.charter.get("/my", worker=0).status_code == 200
    kept = httpx.Cookies(fed.charter.client.cookies)

    my_page = fed.charter.get("/my", worker=1)
    ended = fed.charter.post("/sign-out", data={"csrf_token": csrf_of(my_page)}, worker=1)
    assert ended.status_code == 200, ended.text

    fed.charter.client.cookies = kept  # the cookie from before the sign-out, sent again
    assert fed.charter.get("/my", worker=0).status_code != 200
    assert fed.charter.get("/my", worker=1).status_code != 200


def test_failures_spread_over_both_workers_lock_the_account_at_each(
    fed: Federation, alice: str
) -> None:
    for n in range(5):  # [signin] account_failures, the default
        page = fed.charter.get("/sign-in", worker=n % 2)
        form = {"csrf_token": csrf_of(page), "email": ALICE, "password": WRONG, "next": ""}
        assert fed.charter.post("/sign-in", data=form, worker=n % 2).status_code == 400

    for worker in (0, 1):
        page = fed.charter.get("/sign-in", worker=worker)
        form = {"csrf_token": csrf_of(page), "email": ALICE, "password": PASSWORD, "next": ""}
        assert fed.charter.post("/sign-in", data=form, worker=worker).status_code == 429
    assert not is_signed_in(fed)
