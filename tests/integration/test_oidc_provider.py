"""The charter's OpenID Connect provider in-process, on SQLite and PostgreSQL.

The test plays the relying party liverpool-pensions (it holds that member's key): it sends
the browser to /oidc/authorize, signs in on the charter's page, takes the code from the
redirect and exchanges it at /oidc/token with a private_key_jwt client assertion.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata  # type: ignore[import-untyped]
from sqlalchemy import select, update

from digitalstate.identity.models import AuthorizationCode, Delegation, IssuedPseudonym
from digitalstate.identity.pseudonyms import load_or_create_secret, pseudonym
from digitalstate.identity.service import grant_delegation
from digitalstate.identity.tokens import client_assertion, public_jwk, verify_token
from digitalstate.keys import KeyPair

from .identity_support import (
    CHARTER_URL,
    NEWCASTLE,
    NEWCASTLE_ID,
    NEWCASTLE_URL,
    PENSIONS,
    REVOKED_ID,
    RP_ID,
    RP_URL,
    STRANGER,
    TOKEN_ENDPOINT,
    Federation,
    assert_token_error,
    authorize_params,
    authorize_path,
    code_for,
    csrf_of,
    query_of,
    start_federation,
    token_form,
)

ALICE = "alice@example.test"
HELPER = "harriet@example.test"
CALLBACK = RP_URL + "/auth/callback"


@pytest.fixture
def fed(tmp_path: Path, migrated_database_url: str) -> Iterator[Federation]:
    yield from start_federation(tmp_path, migrated_database_url)


@pytest.fixture
def alice(fed: Federation) -> str:
    return fed.add_person(ALICE, "Alice Example", level="medium")


def exchange(fed: Federation, form: dict[str, str]) -> httpx.Response:
    return fed.charter.post("/oidc/token", data=form)


def charter_key(fed: Federation) -> KeyPair:
    return fed.charter.runtime.key


def claims_of(fed: Federation, answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code == 200, answer.text
    return verify_token(answer.json()["id_token"], [charter_key(fed).public])


def pseudonym_at(fed: Federation, member_id: str, person_id: str) -> str:
    secret = load_or_create_secret(fed.charter.settings.data_dir)
    return pseudonym(secret, member_id, person_id)


def assert_error_page(answer: httpx.Response, text: str) -> None:
    assert answer.status_code == 400, answer.text
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")
    assert "You cannot sign in" in answer.text
    assert text in answer.text


def assert_sent_back_with(answer: httpx.Response, error: str) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query["error"] == error, query
    return query


# discovery and keys ------------------------------------------------------------------------


def test_the_discovery_document_describes_the_provider(fed: Federation) -> None:
    answer = fed.charter.get("/.well-known/openid-configuration")

    assert answer.status_code == 200
    metadata = answer.json()
    checked = OpenIDProviderMetadata(metadata)
    for key in checked.REGISTRY_KEYS:
        # Discovery wants RS256 offered to any client; the federation's clients all sign
        # with Ed25519 node keys, so the charter offers EdDSA alone (docs/adr/0009).
        if key != "id_token_signing_alg_values_supported":
            getattr(checked, f"validate_{key}")()
    assert metadata["issuer"] == CHARTER_URL
    assert metadata["authorization_endpoint"] == CHARTER_URL + "/oidc/authorize"
    assert metadata["token_endpoint"] == TOKEN_ENDPOINT
    assert metadata["jwks_uri"] == CHARTER_URL + "/oidc/jwks"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["subject_types_supported"] == ["pairwise"]
    assert metadata["id_token_signing_alg_values_supported"] == ["EdDSA"]
    assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_the_jwks_holds_the_charter_node_key_as_an_okp_jwk(fed: Federation) -> None:
    answer = fed.charter.get("/oidc/jwks")

    assert answer.status_code == 200
    (jwk,) = answer.json()["keys"]
    assert jwk == public_jwk(charter_key(fed).public)
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert "d" not in jwk


# the code flow -----------------------------------------------------------------------------


def test_a_person_signs_in_and_the_client_gets_an_id_token_naming_its_pseudonym(
    fed: Federation, alice: str
) -> None:
    params = authorize_params()
    first = fed.charter.get(authorize_path(params))
    assert first.status_code == 303
    assert first.headers["location"].startswith("/sign-in?next=")

    back = fed.sign_in_at_charter(ALICE, next_path=query_of(first.headers["location"])["next"])
    assert back.startswith("/oidc/authorize?")
    code = query_of(fed.charter.get(back).headers["location"])["code"]
    answer = exchange(fed, token_form(code))

    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    assert body["expires_in"] == 300
    claims = claims_of(fed, answer)
    assert claims["iss"] == CHARTER_URL
    assert claims["aud"] == RP_ID
    assert claims["sub"] == pseudonym_at(fed, RP_ID, alice)
    assert claims["nonce"] == params["nonce"]
    assert claims["acr"] == "urn:digitalstate:loa:medium"
    assert claims["exp"] == claims["iat"] + 300  # type: ignore[operator]
    assert abs(claims["auth_time"] - datetime.now(UTC).timestamp()) < 60  # type: ignore[operator]
    assert "act" not in claims
    assert alice not in answer.text
    assert alice not in back


def test_the_pseudonym_given_is_recorded_and_differs_per_client(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    pensions = claims_of(fed, exchange(fed, token_form(code_for(fed))))
    tax_params = authorize_params(NEWCASTLE_ID)
    tax = claims_of(
        fed, exchange(fed, token_form(code_for(fed, tax_params), client_id=NEWCASTLE_ID))
    )

    assert pensions["sub"] != tax["sub"]
    assert tax["aud"] == NEWCASTLE_ID
    with fed.charter.runtime.sessions.begin() as session:
        rows = session.scalars(select(IssuedPseudonym).where(IssuedPseudonym.person_id == alice))
        issued = {(row.member_id, row.pseudonym) for row in rows}
    assert issued == {(RP_ID, pensions["sub"]), (NEWCASTLE_ID, tax["sub"])}


def test_signing_in_again_gives_the_same_pseudonym(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    first = claims_of(fed, exchange(fed, token_form(code_for(fed))))
    second = claims_of(fed, exchange(fed, token_form(code_for(fed))))
    assert first["sub"] == second["sub"]


def test_the_client_id_may_be_sent_alongside_the_assertion(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    form = {**token_form(code_for(fed)), "client_id": RP_ID}
    assert exchange(fed, form).status_code == 200


# bad authorization requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/auth/callback",
        RP_URL + "/auth/callback/../../steal",
        RP_URL + "/elsewhere",
        NEWCASTLE_URL + "/auth/callback",
        CALLBACK + "?extra=1",
    ],
)
def test_a_forged_redirect_uri_gets_an_error_page_never_a_redirect(
    fed: Federation, alice: str, redirect_uri: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    answer = fed.charter.get(authorize_path(authorize_params(redirect_uri=redirect_uri)))
    assert_error_page(answer, "not its own")
    with fed.charter.runtime.sessions.begin() as session:
        assert session.scalar(select(AuthorizationCode)) is None


def test_a_missing_redirect_uri_gets_an_error_page(fed: Federation) -> None:
    answer = fed.charter.get(authorize_path(authorize_params(redirect_uri=None)))
    assert_error_page(answer, "not its own")


def test_a_forged_redirect_uri_is_refused_before_asking_anyone_to_sign_in(
    fed: Federation,
) -> None:
    answer = fed.charter.get(
        authorize_path(authorize_params(redirect_uri="https://evil.example/cb"))
    )
    assert_error_page(answer, "not its own")


@pytest.mark.parametrize("client_id", ["nobody-we-know", REVOKED_ID, ""])
def test_an_unknown_or_revoked_client_gets_an_error_page(fed: Federation, client_id: str) -> None:
    params = authorize_params(client_id=client_id, redirect_uri=f"https://{client_id}.test/cb")
    answer = fed.charter.get(authorize_path(params))
    assert_error_page(answer, "not a member of this federation")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
    ],
    ids=[
        "no-pkce",
        "no-challenge-method",
        "plain-pkce",
        "no-nonce",
        "no-openid-scope",
        "implicit",
        "hybrid",
    ],
)
def test_a_request_the_charter_cannot_accept_is_sent_back_with_an_error(
    fed: Federation, alice: str, overrides: dict[str, str | None], error: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    answer = fed.charter.get(authorize_path(authorize_params(**overrides)))
    query = assert_sent_back_with(answer, error)
    assert query["state"] == "state-of-the-test"
    assert "code" not in query


def test_a_request_without_state_is_sent_back_with_invalid_request(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    answer = fed.charter.get(authorize_path(authorize_params(state=None)))
    query = assert_sent_back_with(answer, "invalid_request")
    assert "code" not in query


def test_a_repeated_parameter_gets_an_error_page(fed: Federation) -> None:
    path = authorize_path(authorize_params()) + "&client_id=" + NEWCASTLE_ID
    assert_error_page(fed.charter.get(path), "cannot be accepted")


# bad token requests ------------------------------------------------------------------------


def test_a_wrong_code_verifier_gets_invalid_grant(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    answer = exchange(fed, token_form(code_for(fed), verifier="w" * 43))
    assert_token_error(answer, "invalid_grant")


def test_a_token_request_without_the_code_verifier_is_refused(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    answer = exchange(fed, token_form(code_for(fed), verifier=None))
    assert_token_error(answer, "invalid_request")


def test_a_code_is_spent_on_first_use(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    code = code_for(fed)
    assert exchange(fed, token_form(code)).status_code == 200

    assert_token_error(exchange(fed, token_form(code)), "invalid_grant")


def test_a_code_is_spent_even_by_a_failed_exchange(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    code = code_for(fed)
    assert_token_error(exchange(fed, token_form(code, verifier="w" * 43)), "invalid_grant")

    assert_token_error(exchange(fed, token_form(code)), "invalid_grant")


def test_an_expired_code_is_refused(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    code = code_for(fed)
    with fed.charter.runtime.sessions.begin() as session:
        row = session.get(AuthorizationCode, code)
        assert row is not None
        lifetime = row.expires_at - row.auth_time
        session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code == code)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert lifetime <= timedelta(seconds=61)

    assert_token_error(exchange(fed, token_form(code)), "invalid_grant")


def test_a_made_up_code_is_refused(fed: Federation) -> None:
    assert_token_error(exchange(fed, token_form("no-such-code")), "invalid_grant")


def test_a_code_issued_to_another_client_is_refused(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    code = code_for(fed)
    form = {**token_form(code, client_id=NEWCASTLE_ID), "redirect_uri": CALLBACK}
    assert_token_error(exchange(fed, form), "invalid_grant")


def test_an_unknown_client_cannot_get_a_token(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    form = token_form(code_for(fed), client_id="nobody-we-know", key=STRANGER)
    assert_token_error(exchange(fed, form), "invalid_client")


def test_a_client_assertion_signed_with_the_wrong_key_is_refused(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    code = code_for(fed)
    assert_token_error(exchange(fed, token_form(code, key=STRANGER)), "invalid_client")
    assert_token_error(exchange(fed, token_form(code, key=NEWCASTLE)), "invalid_client")


def test_a_replayed_client_assertion_is_refused(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    assertion = client_assertion(RP_ID, PENSIONS, TOKEN_ENDPOINT)
    assert exchange(fed, token_form(code_for(fed), assertion=assertion)).status_code == 200

    answer = exchange(fed, token_form(code_for(fed), assertion=assertion))

    assert "used before" in assert_token_error(answer, "invalid_client")["error_description"]


def test_a_client_assertion_may_name_the_issuer_as_audience(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    answer = exchange(fed, token_form(code_for(fed), audience=CHARTER_URL))
    assert answer.status_code == 200, answer.text


def test_a_client_assertion_for_another_audience_is_refused(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    form = token_form(code_for(fed), audience="https://elsewhere.test/oidc/token")
    assert_token_error(exchange(fed, form), "invalid_client")


def test_a_client_assertion_living_over_five_minutes_is_refused(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    assertion = client_assertion(RP_ID, PENSIONS, TOKEN_ENDPOINT, lifetime=3600)
    answer = exchange(fed, token_form(code_for(fed), assertion=assertion))
    assert "at most 300 s" in assert_token_error(answer, "invalid_client")["error_description"]


def test_an_expired_client_assertion_is_refused(fed: Federation, alice: str) -> None:
    fed.sign_in_at_charter(ALICE)
    old = datetime.now(UTC).timestamp() - 600
    assertion = client_assertion(RP_ID, PENSIONS, TOKEN_ENDPOINT, now=old)
    assert_token_error(
        exchange(fed, token_form(code_for(fed), assertion=assertion)), "invalid_client"
    )


def test_a_token_request_without_client_authentication_is_refused(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    form = token_form(code_for(fed))
    del form["client_assertion"], form["client_assertion_type"]
    form["client_id"] = RP_ID
    assert_token_error(exchange(fed, form), "invalid_client")


def test_a_client_id_that_is_not_the_assertion_subject_is_refused(
    fed: Federation, alice: str
) -> None:
    fed.sign_in_at_charter(ALICE)
    form = {**token_form(code_for(fed)), "client_id": NEWCASTLE_ID}
    assert_token_error(exchange(fed, form), "invalid_client")


def test_another_grant_type_is_refused(fed: Federation) -> None:
    answer = exchange(fed, {"grant_type": "client_credentials", "scope": "openid"})
    assert_token_error(answer, "unsupported_grant_type")


# helpers ------------------------------------------------------------------------------------


@pytest.fixture
def helper(fed: Federation, alice: str) -> str:
    helper_id = fed.add_person(HELPER, "Harriet Helper", level="high")
    with fed.charter.runtime.sessions.begin() as session:
        grant_delegation(
            session,
            person_id=alice,
            helper_email=HELPER,
            scope=["sign-in"],
            expires_at=datetime.now(UTC) + timedelta(days=30),
            now=datetime.now(UTC),
        )
    return helper_id


def choose(fed: Federation, act_as: str | None) -> httpx.Response:
    page = fed.charter.get(authorize_path(authorize_params()))
    assert page.status_code == 200, page.text
    assert "Who are you signing in to Liverpool: pensions as?" in page.text
    form = dict(authorize_params())
    form["csrf_token"] = csrf_of(page)
    if act_as is not None:
        form["act_as"] = act_as
    return fed.charter.post("/oidc/authorize", data=form)


def test_a_helper_signing_in_for_a_person_gives_the_person_sub_and_the_helper_act(
    fed: Federation, alice: str, helper: str
) -> None:
    fed.sign_in_at_charter(HELPER)
    answer = choose(fed, delegation_id(fed, alice))

    assert answer.status_code == 302, answer.text
    code = query_of(answer.headers["location"])["code"]
    claims = claims_of(fed, exchange(fed, token_form(code)))
    assert claims["sub"] == pseudonym_at(fed, RP_ID, alice)
    assert claims["act"] == {"sub": pseudonym_at(fed, RP_ID, helper)}
    assert claims["acr"] == "urn:digitalstate:loa:high"  # the helper proved who they are
    with fed.charter.runtime.sessions.begin() as session:
        ends = session.scalar(select(Delegation.expires_at).where(Delegation.helper_id == helper))
    assert ends is not None
    assert claims["act_until"] == int(ends.timestamp())  # the delegation's end


def test_a_helper_may_sign_in_as_themselves(fed: Federation, alice: str, helper: str) -> None:
    fed.sign_in_at_charter(HELPER)
    answer = choose(fed, "self")

    code = query_of(answer.headers["location"])["code"]
    claims = claims_of(fed, exchange(fed, token_form(code)))
    assert claims["sub"] == pseudonym_at(fed, RP_ID, helper)
    assert "act" not in claims


@pytest.mark.parametrize("act_as", [None, "", "someone-else"])
def test_a_helper_must_choose_someone_they_may_act_for(
    fed: Federation, alice: str, helper: str, act_as: str | None
) -> None:
    fed.sign_in_at_charter(HELPER)
    answer = choose(fed, act_as)

    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "Select who you are signing in as" in answer.text


def test_a_consent_only_delegation_does_not_let_a_helper_sign_in_for_someone(
    fed: Federation, alice: str
) -> None:
    fed.add_person(HELPER, "Harriet Helper")
    with fed.charter.runtime.sessions.begin() as session:
        grant_delegation(
            session,
            person_id=alice,
            helper_email=HELPER,
            scope=["consent"],
            expires_at=datetime.now(UTC) + timedelta(days=30),
            now=datetime.now(UTC),
        )
    fed.sign_in_at_charter(HELPER)
    assert fed.charter.get(authorize_path(authorize_params())).status_code == 302


def test_the_choice_of_whom_to_sign_in_as_needs_the_csrf_token(
    fed: Federation, alice: str, helper: str
) -> None:
    fed.sign_in_at_charter(HELPER)
    form = {**authorize_params(), "act_as": delegation_id(fed, alice)}

    answer = fed.charter.post("/oidc/authorize", data=form)

    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    with fed.charter.runtime.sessions.begin() as session:
        assert session.scalar(select(AuthorizationCode)) is None


def test_the_choice_is_checked_again_when_it_is_posted(
    fed: Federation, alice: str, helper: str
) -> None:
    fed.sign_in_at_charter(HELPER)
    page = fed.charter.get(authorize_path(authorize_params()))
    forged = {
        **authorize_params(redirect_uri="https://evil.example/cb"),
        "csrf_token": csrf_of(page),
        "act_as": delegation_id(fed, alice),
    }
    assert_error_page(fed.charter.post("/oidc/authorize", data=forged), "not its own")


def test_signing_in_starts_at_the_charter_sign_in_page_and_comes_back(
    fed: Federation, alice: str
) -> None:
    params = authorize_params()
    first = fed.charter.get(authorize_path(params))
    assert first.headers["location"] == "/sign-in?next=" + quote(authorize_path(params), safe="")


def delegation_id(fed: Federation, person_id: str) -> str:
    """The id of the delegation a person gave: what the choose-who form names."""
    with fed.charter.runtime.sessions.begin() as session:
        found = session.scalar(select(Delegation.id).where(Delegation.person_id == person_id))
    assert found is not None
    return found
