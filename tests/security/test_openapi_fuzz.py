"""Every operation in every node role's OpenAPI document (and the anchor's), fuzzed in-process.

schemathesis generates requests from each app's own /openapi.json; requests to exchange paths
are signed as a member the tests play (FUZZER_ID, every role), so that their bodies reach the
routes behind the signature; /exchange/v1/records/match also gets bodies under a published
statutory basis, relayed as the charter relays it (the fuzzer has every role), and must answer
some of them at the register that holds their fields. Every answer must be below 500, and
every error must be application/problem+json, except where a protocol fixes another form
(EXEMPT). Few examples, derandomized, no deadline and no shrinking: the whole file runs in well
under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from digitalstate.exchange.client import ExchangeClient
from digitalstate.exchange.legal_ground import BASIS_HEADER, CONSENT_HEADER, PURPOSE_HEADER
from digitalstate.exchange.server import EXCHANGE_PREFIX
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.identity.oidc import AUTHORIZE_PATH, TOKEN_PATH, oauth_description
from digitalstate.identity.tokens import client_assertion
from digitalstate.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from integration.registers_support import PERSON, RECORD, add_consent, add_record
from security.support import (
    ANCHOR_APP,
    FUZZER,
    FUZZER_ID,
    ROLE_NODES,
    base_url_of,
    build_role_apps,
    started,
)
from support.clients import InProcessClient

EXAMPLES = 15
PURPOSE = "pension-administration"
CONSENT = "0b6f0c1e-5d4c-4f0e-9a53-fuzz00000001"
FIELD_NAMES = [f.name for f in load_catalogue().fields]
CONSENTED = ["people.address", "people.date_of_birth"]  # what add_consent gives by default
# A published basis the fuzzing member relays as the charter does (it has every role), so that
# a read or a match under a basis gets past the check of its grounds to the record.
BASIS = next(b for b in load_catalogue().statutory_bases if b.id == "electoral-identity-check")
MATCH_PATH = "/exchange/v1/records/match"
MATCHED_AT = "people-register"  # the register holding the basis's people.* fields
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
# Errors whose form a protocol fixes: OAuth 2.0 token errors are JSON {"error": ...} (RFC 6749
# section 5.2); the authorization endpoint shows a person an HTML page or redirects to the client;
# the portal's CKAN Action API answers in CKAN's envelope, which CKAN's clients read (ADR 0029).
EXEMPT = {
    ("POST", "/oidc/token"): "RFC 6749 5.2 error response",
    ("GET", "/oidc/authorize"): "HTML page for the person",
    ("POST", "/oidc/authorize"): "HTML page for the person",
    **{
        (method, path): "CKAN's error envelope"
        for method in ("GET", "POST")
        for path in ("/api/3/action/{action}", "/api/action/{action}")
    },
}

# A 503 the node means: a state it says it is in (no checkpoint signed yet: these nodes run no
# sequencer), not a crash. Any other 5xx is a failure.
UNAVAILABLE = {PROBLEM_BASE + "checkpoint-unavailable", PROBLEM_BASE + "federation-unavailable"}


@schemathesis.check
def no_server_error(ctx: Any, response: schemathesis.Response, case: Any) -> bool:
    """No 5xx, except a 503 problem naming a state the node documents (UNAVAILABLE)."""
    if response.status_code < 500:
        return True
    said = response.json() if response.status_code == 503 else {}
    assert isinstance(said, dict) and said.get("type") in UNAVAILABLE, (
        f"server error {response.status_code}: {response.text[:300]}"
    )
    return True


@schemathesis.check
def errors_are_problem_details(ctx: Any, response: schemathesis.Response, case: Any) -> bool:
    """Every 4xx and 5xx answer is application/problem+json."""
    if response.status_code < 400 or (case.method.upper(), case.path) in EXEMPT:
        return True
    media = response.headers.get("content-type", [""])[0]
    assert media.startswith(PROBLEM_MEDIA_TYPE), (
        f"{response.status_code} answered as {media!r}, not problem+json"
    )
    return True


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, InProcessClient]]:
    """Every role's app and the anchor's, started, for the module."""
    apps = build_role_apps(tmp_path_factory.mktemp("fuzz"))
    clients = {name: started(app, name) for name, app in apps.items()}
    entered: list[InProcessClient] = []
    try:
        for client in clients.values():
            entered.append(client.__enter__())
        for name, roles in ROLE_NODES.items():
            if "register" in roles:
                seed_consented_record(clients[name].app)
        yield clients
    finally:
        for client in reversed(entered):
            client.__exit__(None, None, None)


def seed_consented_record(app: FastAPI) -> None:
    """A record at a register and a consent the fuzzing member holds to read it."""
    now = datetime.now(UTC)
    with app.state.node.sessions.begin() as session:
        add_record(session, PERSON)
        add_consent(
            session,
            requester=FUZZER_ID,
            consent_id=CONSENT,
            purpose=PURPOSE,
            granted_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=1),
        )


def send(node: InProcessClient, name: str, case: Any) -> httpx.Response:
    """Send case to the node, signed as FUZZER_ID when it goes to an exchange path."""
    kwargs = case.as_transport_kwargs(base_url=base_url_of(node.app, name))
    kwargs.pop("cookies", None)
    headers = {k.lower(): str(v) for k, v in kwargs.pop("headers", {}).items()}
    if isinstance(kwargs.get("data"), bytes | str):  # a broken body: raw, not a form
        kwargs["content"] = kwargs.pop("data")
    request = httpx.Request(headers=headers, **kwargs)
    raw = request.read()
    sent = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    if request.url.path.startswith(EXCHANGE_PREFIX):
        signer = ExchangeClient(FUZZER_ID, FUZZER, lambda: None)  # type: ignore[arg-type,return-value]
        sent = signer.sign_request(request.method, str(request.url), raw, sent)
    target = request.url.raw_path.decode("ascii")
    return node.request(request.method, target, content=raw, headers=sent)


def either_mode(operation: Any) -> st.SearchStrategy[Any]:
    """Cases that fit the operation's schema, cases that break it, and cases on real grounds.

    An operation that reads personal data also gets cases naming the fuzzing member's real
    purpose and consent (and, for a read, real field names among junk), so that its body is
    fuzzed past the check of the grounds.
    """
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )
    names = {p.name for p in operation.iter_parameters()}
    if PURPOSE_HEADER not in names:
        return cases
    if operation.path == MATCH_PATH:  # under a basis only: a consent is refused at once
        return cases | on_basis(operation)
    grounds = {PURPOSE_HEADER: PURPOSE, CONSENT_HEADER: CONSENT}
    names = st.sampled_from(CONSENTED) | st.sampled_from(FIELD_NAMES)
    fields = st.lists(names, min_size=1, max_size=4)
    read = fields.flatmap(lambda f: operation.as_strategy(headers=grounds, body={"fields": f}))
    return cases | (operation.as_strategy(headers=grounds) | read).map(on_consent_only)


def on_basis(operation: Any) -> st.SearchStrategy[Any]:
    """Matches relayed under BASIS for its requester about the seeded person: values of the
    basis's fields (and others, junk among them), the record's own or not."""
    grounds = {PURPOSE_HEADER: BASIS.purpose, BASIS_HEADER: BASIS.id}
    held = st.sampled_from([f for f in BASIS.fields if f.startswith("people.")])
    named = st.sampled_from(BASIS.fields) | st.sampled_from(FIELD_NAMES)
    said = st.sampled_from([v for v in RECORD.values() if isinstance(v, str)]) | st.text(
        min_size=1, max_size=40
    )
    values = st.dictionaries(held, said, min_size=1, max_size=3) | st.dictionaries(
        named, said, min_size=1, max_size=4
    )
    body = values.map(lambda v: {"values": v, "subject": PERSON, "on_behalf_of": BASIS.requester})
    cases = body.flatmap(lambda b: operation.as_strategy(headers=grounds, body=b))
    return cases.map(on_basis_only)


def on_consent_only(case: Any) -> Any:
    """case without a statutory basis header (a call names a consent or a basis, not both)."""
    case.headers.pop(BASIS_HEADER, None)
    return case


def on_basis_only(case: Any) -> Any:
    """case without a consent header."""
    case.headers.pop(CONSENT_HEADER, None)
    return case


def fuzz_operation(node: InProcessClient, name: str, operation: Any) -> str | None:
    """Fuzz one operation; what failed, in one line, or None."""
    statuses: list[int] = []

    @FUZZ
    @given(case=either_mode(operation))
    def fuzz(case: Any) -> None:
        response = send(node, name, case)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[no_server_error, errors_are_problem_details])

    label = f"{operation.method.upper()} {operation.path}"
    try:
        fuzz()
    except (Exception, BaseExceptionGroup) as exc:  # one line per failing operation
        return f"{label}: " + " | ".join(str(exc).strip().splitlines()[:12])
    if operation.path.startswith(EXCHANGE_PREFIX) and set(statuses) == {401}:
        return f"{label}: every signed request was refused; the fuzzer's signature is wrong"
    if (
        operation.path == MATCH_PATH and name == MATCHED_AT and 200 not in statuses
    ):  # no body got past the grounds to the record
        return f"{label}: no match was answered ({sorted(set(statuses))})"
    return None


def fuzz_operations(node: InProcessClient, name: str) -> list[str]:
    """Fuzz every operation of the node's OpenAPI document; what failed, one line each."""
    app: FastAPI = node.app
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{name} has no operations in its OpenAPI document"
    return [f for f in (fuzz_operation(node, name, op) for op in operations) if f is not None]


@pytest.mark.parametrize("name", [*ROLE_NODES, ANCHOR_APP])
def test_every_operation_of_a_nodes_openapi_answers_without_a_server_error_and_with_problems(
    nodes: dict[str, InProcessClient], name: str
) -> None:
    failures = fuzz_operations(nodes[name], name)

    assert not failures, "\n".join(failures)


# --- the OpenID Connect endpoints read their forms themselves: their OpenAPI declares no fields

CHARTER_URL = "https://charter.test"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CALLBACK = f"https://{FUZZER_ID}.test/auth/callback"
junk = st.text(max_size=40)


def token_forms() -> st.SearchStrategy[dict[str, str]]:
    """Token requests: each field absent, plausible or junk; the assertion signed or not."""
    signed = client_assertion(FUZZER_ID, FUZZER, CHARTER_URL + TOKEN_PATH, lifetime=3600)
    optional = {
        "grant_type": st.sampled_from(["authorization_code", "refresh_token"]) | junk,
        "code": junk,
        "redirect_uri": st.just(CALLBACK) | junk,
        "client_assertion_type": st.just(JWT_BEARER) | junk,
        "client_assertion": st.sampled_from([signed, "a.b.c", signed[:-4]]) | junk,
        "code_verifier": junk,
        "client_id": st.just(FUZZER_ID) | junk,
    }
    return st.fixed_dictionaries({}, optional=optional)


def authorize_queries() -> st.SearchStrategy[dict[str, str]]:
    """Authorization requests: each parameter absent, plausible or junk."""
    optional = {
        "response_type": st.just("code") | junk,
        "client_id": st.just(FUZZER_ID) | junk,
        "redirect_uri": st.just(CALLBACK) | junk,
        "scope": st.just("openid") | junk,
        "state": junk,
        "nonce": junk,
        "code_challenge": st.just("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") | junk,
        "code_challenge_method": st.just("S256") | junk,
        "prompt": st.sampled_from(["login", "none"]) | junk,
        "max_age": st.just("0") | junk,
        "acr_values": junk,
    }
    return st.fixed_dictionaries({}, optional=optional)


def test_the_token_endpoint_answers_any_form_with_an_oauth_error_not_a_server_error(
    nodes: dict[str, InProcessClient],
) -> None:
    charter = nodes["charter"]

    @FUZZ
    @given(form=token_forms())
    def fuzz(form: dict[str, str]) -> None:
        response = charter.request("POST", TOKEN_PATH, data=form)

        assert response.status_code < 500, response.text
        assert response.status_code == 200 or "error" in response.json(), response.text

    fuzz()


def test_the_authorization_endpoint_answers_any_query_without_a_server_error(
    nodes: dict[str, InProcessClient],
) -> None:
    charter = nodes["charter"]

    @FUZZ
    @given(query=authorize_queries())
    def fuzz(query: dict[str, str]) -> None:
        response = charter.request("GET", AUTHORIZE_PATH, params=query)

        assert response.status_code < 500, response.text[:500]

    fuzz()


@pytest.mark.parametrize(
    "query",
    [
        {"client_id": FUZZER_ID, "response_type": "code", "redirect_uri": "https://x/\U000dc25a"},
        {"client_id": FUZZER_ID, "response_type": "c\u00f6de", "redirect_uri": CALLBACK},
        {"client_id": FUZZER_ID, "response_type": 'co"de', "redirect_uri": CALLBACK},
    ],
    ids=["non-ascii redirect", "non-ascii response type", "quoted response type"],
)
def test_an_authorization_request_authlib_would_echo_is_refused_not_a_crash(
    nodes: dict[str, InProcessClient], query: dict[str, str]
) -> None:
    # Found by the fuzzing above: a refusal echoing the caller's value made Authlib raise on
    # a character an OAuth error description may not hold (a 500).
    response = nodes["charter"].request("GET", AUTHORIZE_PATH, params=query)

    assert response.status_code == 400
    assert "invalid_request" in response.text


def test_a_token_request_with_a_non_ascii_grant_type_is_an_oauth_error(
    nodes: dict[str, InProcessClient],
) -> None:
    response = nodes["charter"].request("POST", TOKEN_PATH, data={"grant_type": "\u00e9"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_an_oauth_error_description_keeps_only_what_rfc_6749_allows() -> None:
    assert oauth_description('bad "kid" \\ é\x00 ok') == "bad ?kid? ? ?? ok"
