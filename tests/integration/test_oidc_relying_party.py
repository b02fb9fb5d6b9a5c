"""A node signing people in through the charter, both apps in-process on one event loop.

liverpool-pensions is the relying party; its one call to the charter's token endpoint goes
straight to the charter app (identity_support replaces the token poster). The browser's steps
between the two are made by hand, so a test can tamper with any of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import httpx
import pytest
from sqlalchemy import select

from digitalstate.identity.models import Delegation
from digitalstate.identity.pseudonyms import load_or_create_secret, pseudonym
from digitalstate.identity.relying_party import (
    MAX_TOKEN_ANSWER_BYTES,
    SignInFailedError,
    post_token_request,
)
from digitalstate.identity.service import grant_delegation
from digitalstate.identity.tokens import sign_token
from support.fixtures import ALICE
from support.servers import streaming_answer

from .identity_support import (
    CHARTER_URL,
    RP_ID,
    RP_URL,
    STRANGER,
    Federation,
    csrf_of,
    query_of,
    start_federation,
    token_form,
)

HELPER = "harriet@example.test"


@pytest.fixture
def fed(tmp_path: Path, migrated_database_url: str) -> Iterator[Federation]:
    yield from start_federation(tmp_path, migrated_database_url, with_rp=True)


def pseudonym_at_rp(fed: Federation, person_id: str) -> str:
    return pseudonym(load_or_create_secret(fed.charter.settings.data_dir), RP_ID, person_id)


def start(fed: Federation, next_path: str = "/test/whoami") -> str:
    """Begin signing in at the relying party; the charter address it sends the browser to."""
    answer = fed.rp.get("/auth/sign-in", params={"next": next_path})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def through_charter(fed: Federation, authorize_url: str) -> str:
    """Follow the browser at the charter (signed in already); the callback address."""
    answer = fed.charter.get(authorize_url)
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    assert callback.startswith(RP_URL + "/auth/callback?")
    return callback


def whoami(fed: Federation) -> httpx.Response:
    return fed.rp.get("/test/whoami")


def test_sign_in_sends_the_browser_to_the_charter_with_state_nonce_and_pkce(
    fed: Federation,
) -> None:
    url = start(fed)

    assert url.startswith(CHARTER_URL + "/oidc/authorize?")
    query = query_of(url)
    assert query["response_type"] == "code"
    assert query["client_id"] == RP_ID
    assert query["redirect_uri"] == RP_URL + "/auth/callback"
    assert query["scope"] == "openid"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert len(query["code_challenge"]) == 43
    assert query["state"] != start(fed).split("state=")[1]  # fresh every time


def test_a_page_that_needs_a_sign_in_sends_visitors_to_sign_in_and_back(fed: Federation) -> None:
    answer = fed.rp.get("/test/whoami?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/sign-in?next=%2Ftest%2Fwhoami%3Fx%3D1"


def test_a_person_signs_in_at_a_node_through_the_charter(fed: Federation, alice: str) -> None:
    authorize_url = start(fed, "/test/whoami?from=test")
    at_charter = fed.charter.get(authorize_url)
    assert at_charter.status_code == 303  # not signed in at the charter yet
    back_to_authorize = fed.sign_in_at_charter(
        ALICE, next_path=query_of(at_charter.headers["location"])["next"]
    )
    callback = through_charter(fed, back_to_authorize)

    answer = fed.rp.get(callback)

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/test/whoami?from=test"
    me = whoami(fed)
    assert me.status_code == 200
    assert me.json() == {
        "sub": pseudonym_at_rp(fed, alice),
        "acr": "urn:digitalstate:loa:low",
        "acting_for": None,
    }
    assert alice not in me.text


def test_a_next_address_off_this_node_is_ignored(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    callback = through_charter(fed, start(fed, "https://evil.example/"))
    assert fed.rp.get(callback).headers["location"] == "/"


def test_a_helper_signing_in_for_someone_is_shown_as_acting_for_them(
    fed: Federation, alice: str
) -> None:
    helper = fed.add_person(HELPER, "Harriet Helper")
    with fed.charter.runtime.sessions.begin() as session:
        grant_delegation(
            session,
            person_id=alice,
            helper_email=HELPER,
            scope="sign-in",
            expires_at=datetime.now(UTC) + timedelta(days=1),
            now=datetime.now(UTC),
        )
    fed.sign_in_at_charter(HELPER)
    authorize_url = start(fed)
    page = fed.charter.get(authorize_url)
    form = {
        **query_of(authorize_url),
        "csrf_token": csrf_of(page),
        "act_as": delegation_id(fed, alice),
    }
    chosen = fed.charter.post("/oidc/authorize", data=form)

    fed.rp.get(chosen.headers["location"])

    assert whoami(fed).json() == {
        "sub": pseudonym_at_rp(fed, alice),
        "acr": "urn:digitalstate:loa:low",
        "acting_for": pseudonym_at_rp(fed, helper),
    }


def test_a_callback_whose_state_does_not_match_signs_nobody_in(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    callback = through_charter(fed, start(fed))
    query = query_of(callback)
    forged = "/auth/callback?" + urlencode({"code": query["code"], "state": "not-the-state"})

    answer = fed.rp.get(forged)

    assert answer.status_code == 400
    assert "You have not been signed in" in answer.text
    assert "state mismatch" in answer.text
    assert whoami(fed).status_code == 303


def test_a_callback_nobody_started_signs_nobody_in(fed: Federation) -> None:
    answer = fed.rp.get("/auth/callback?code=abc&state=xyz")
    assert answer.status_code == 400
    assert whoami(fed).status_code == 303


def test_a_callback_can_be_used_once(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    callback = through_charter(fed, start(fed))
    assert fed.rp.get(callback).status_code == 303

    assert fed.rp.get(callback).status_code == 400


def test_an_id_token_for_another_nonce_is_refused(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    url = start(fed)
    parts = urlsplit(url)
    query = {**query_of(url), "nonce": "an-attackers-nonce"}
    callback = through_charter(fed, f"{parts.path}?{urlencode(query)}")

    answer = fed.rp.get(callback)

    assert answer.status_code == 400
    assert "nonce mismatch" in answer.text
    assert whoami(fed).status_code == 303


def test_the_charter_refusing_is_explained(fed: Federation) -> None:
    query = query_of(start(fed))
    answer = fed.rp.get(
        "/auth/callback?" + urlencode({"error": "access_denied", "state": query["state"]})
    )
    assert answer.status_code == 400
    assert "You chose not to sign in." in answer.text
    assert whoami(fed).status_code == 303


def forged_token_poster(claims: Mapping[str, Any], key: Any) -> Any:
    async def post(url: str, form: Mapping[str, str]) -> tuple[int, Any]:
        return 200, {"id_token": sign_token(claims, key), "token_type": "Bearer"}

    return post


def test_an_id_token_not_signed_by_the_charter_is_refused(fed: Federation) -> None:
    query = query_of(start(fed))
    now = int(time.time())
    claims = {
        "iss": CHARTER_URL,
        "aud": RP_ID,
        "sub": "someone",
        "acr": "urn:digitalstate:loa:high",
        "nonce": query["nonce"],
        "iat": now,
        "exp": now + 300,
    }
    fed.rp.app.state.oidc_token_poster = forged_token_poster(claims, STRANGER)

    answer = fed.rp.get("/auth/callback?" + urlencode({"code": "x", "state": query["state"]}))

    assert answer.status_code == 400
    assert "signature does not verify" in answer.text
    assert whoami(fed).status_code == 303


def test_a_token_endpoint_error_is_explained(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    callback = through_charter(fed, start(fed))
    code = query_of(callback)["code"]
    spent = fed.charter.post("/oidc/token", data=token_form(code, verifier="w" * 43))
    assert spent.status_code == 400  # a failed exchange spends the code too

    answer = fed.rp.get(callback)

    assert answer.status_code == 400
    assert "token endpoint answered 400 invalid_grant" in answer.text


def test_an_unreachable_token_endpoint_is_a_sign_in_failure() -> None:
    async def call() -> None:
        await post_token_request(
            "http://127.0.0.1:9/oidc/token", {"a": "b"}, limit=aiohttp.ClientTimeout(total=2)
        )

    with pytest.raises(SignInFailedError, match="token endpoint unreachable") as failure:
        asyncio.run(call())
    assert failure.value.message == "The sign-in service cannot be reached at the moment."


def test_a_token_endpoint_answer_past_the_bound_is_not_read_on() -> None:
    # Valid JSON, just longer than the bound: read whole, it would be a token answer.
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    token = b'{"id_token": "' + b"x" * MAX_TOKEN_ANSWER_BYTES + b'"}'

    async def call() -> tuple[int, object]:
        async with streaming_answer(head, chunked=True, content=token) as endpoint:
            return await post_token_request(
                f"http://127.0.0.1:{endpoint.port}/oidc/token",
                {"a": "b"},
                limit=aiohttp.ClientTimeout(total=30),
            )

    assert asyncio.run(call()) == (200, None)  # what the caller takes for a failed endpoint


def test_signing_out_of_a_node_needs_the_csrf_token_and_ends_the_sign_in(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    fed.rp.get(through_charter(fed, start(fed)))
    assert whoami(fed).status_code == 200
    assert fed.rp.post("/auth/sign-out", data={}).status_code == 403
    assert whoami(fed).status_code == 200

    token = fed.rp.get("/test/csrf").json()["token"]
    answer = fed.rp.post("/auth/sign-out", data={"csrf_token": token})

    assert answer.status_code == 200
    assert "You have signed out" in answer.text
    assert whoami(fed).status_code == 303


def test_the_relying_party_session_cookie_is_its_own(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    answer = fed.rp.get(through_charter(fed, start(fed)))
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"ds-{RP_ID}=")
    assert "secure" in cookie.lower()


def delegation_id(fed: Federation, person_id: str) -> str:
    """The id of the delegation a person gave: what the choose-who form names."""
    with fed.charter.runtime.sessions.begin() as session:
        found = session.scalar(select(Delegation.id).where(Delegation.person_id == person_id))
    assert found is not None
    return found
