"""The HTTP edge of a node and the trust anchor: body size, Host and forwarded headers.

Findings E1 and E2 of the security review (issue 8): a 37 MB form was read in full before the
CSRF refusal; any Host was answered; uvicorn believed X-Forwarded-For from loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import params
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from digitalstate.app import create_anchor_app
from digitalstate.consent.models import ConsentRequest
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.setup import init_anchor
from digitalstate.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from digitalstate.settings import EdgeSection
from digitalstate.web.hardening import (
    FORM_MAX_FIELDS,
    allowed_host_names,
    server_options,
    strict_host_name,
)
from integration import consent_support
from integration.consent_support import ask
from integration.identity_support import (
    PASSWORD,
    Federation,
    add_helper,
    csrf_of,
    delegations,
    is_signed_in,
    sign_in_form,
)
from integration.registers_support import (
    BASE_URL,
    RegisterNode,
    add_consent,
    add_record,
    start_register,
)
from security.support import build_role_apps
from support.fixtures import ALICE
from support.servers import LoopbackServer

MIB = 1024 * 1024
Files = dict[str, tuple[str, bytes]] | None
PAST_THE_FORM_BOUNDS = [
    pytest.param({f"pad{index}": "x" for index in range(500)}, None, id="500-fields"),
    pytest.param({}, {"upload": ("a.txt", b"x")}, id="a-file-part"),
]


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: object) -> Iterator[RegisterNode]:
    yield from start_register(tmp_path / "register", database_url)


class Stream:
    """A request body of many 1 MiB chunks that counts how many were taken."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.taken += 1
            yield b"a=" + b"x" * (MIB - 2)


def test_a_37_mb_form_declared_by_content_length_gets_413_before_any_of_it_is_read(
    node: RegisterNode,
) -> None:
    body = Stream(37)
    answer = node.http.request(
        "POST",
        "/operator/sign-in",
        content=body,
        headers={"content-length": str(37 * MIB), "accept": "text/html"},
    )
    assert answer.status_code == 413
    assert "too large" in answer.text and "Form expired" not in answer.text
    assert body.taken <= 1  # nothing past what the transport primes before the app runs


def test_a_streamed_form_without_a_length_is_cut_off_at_the_limit_before_the_csrf_check(
    node: RegisterNode,
) -> None:
    body = Stream(37)
    form = {"content-type": "application/x-www-form-urlencoded"}
    answer = node.http.request("POST", "/operator/sign-in", content=body, headers=form)
    assert answer.status_code == 413
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert answer.json()["type"] == PROBLEM_BASE + "body-too-large"
    assert answer.json()["limit_bytes"] == 65_536
    assert body.taken < 37


def test_a_form_within_the_limit_still_reaches_the_csrf_check(node: RegisterNode) -> None:
    answer = node.http.request(
        "POST", "/operator/sign-in", data={"token": "x" * 1000, "csrf_token": "forged"}
    )
    assert answer.status_code == 403


def test_a_request_for_a_foreign_host_is_refused_with_untrusted_host(node: RegisterNode) -> None:
    for path in ("/", "/healthz", "/operator/log", "/metrics"):
        answer = node.http.request("GET", path, headers={"host": "attacker.example"})
        assert answer.status_code == 400, path
        assert answer.json()["type"] == PROBLEM_BASE + "untrusted-host"
    assert node.http.request("GET", "/healthz").status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:1@evil.com",
        "people.test:1@evil.com",
        "people.test:80:80",
        "people.test:",
        "people.test:0",
        "people.test:65536",
        "people.test:+80",
        "people.test/evil",
        "[::1",
        "[::1]x",
        "[not:an:address]",
        "",
    ],
)
def test_a_host_that_is_not_a_name_and_a_port_of_digits_is_refused(
    node: RegisterNode, host: str
) -> None:
    answer = node.http.request("GET", "/healthz", headers={"host": host})
    assert answer.status_code == 400, host
    assert answer.json()["type"] == PROBLEM_BASE + "untrusted-host"


def test_a_repeated_host_header_is_refused_even_when_both_are_allowed(
    node: RegisterNode,
) -> None:
    own = BASE_URL.removeprefix("http://")
    answer = node.http.request("GET", "/healthz", headers=[("host", own), ("host", own)])
    assert answer.status_code == 400
    assert answer.json()["type"] == PROBLEM_BASE + "untrusted-host"
    assert node.http.request("GET", "/healthz", headers={"host": own + ":8101"}).status_code == 200


def test_the_host_parser_takes_names_ipv6_literals_and_ports_of_digits_only() -> None:
    assert strict_host_name("People.Test:443") == "people.test"
    assert strict_host_name("[::1]:8101") == "::1"
    assert strict_host_name("127.0.0.1") == "127.0.0.1"
    assert strict_host_name("127.0.0.1:1@evil.com") is None
    assert strict_host_name("::1") is None  # an IPv6 literal needs its brackets


def test_a_signed_call_from_another_node_by_the_base_url_still_passes(
    node: RegisterNode,
) -> None:
    with node.sessions.begin() as session:
        add_record(session)
        consent = add_consent(session)
    answer = node.call("/exchange/v1/records/read", {"fields": ["people.address"]}, consent=consent)
    assert answer.status_code == 200, answer.text


def test_the_loopback_names_and_configured_extra_hosts_are_allowed() -> None:
    names = allowed_host_names("http://127.0.0.1:8101", ["Node.Example.GOV"])
    assert {"127.0.0.1", "localhost", "::1", "node.example.gov"} <= names
    assert allowed_host_names("https://node.example.gov", []) == {"node.example.gov"}
    assert BASE_URL.removeprefix("http://") in allowed_host_names(BASE_URL, [])


def test_the_trust_anchor_refuses_a_foreign_host_and_answers_its_own(tmp_path: Path) -> None:
    settings, _ = init_anchor(
        tmp_path / "anchor",
        federation="edge test",
        base_url="http://anchor.test",
        host="127.0.0.1",
        port=8100,
        catalogue=load_catalogue(),
        validity_hours=24,
        now=datetime.now(UTC),
    )
    app = create_anchor_app(settings)

    async def ask(host: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://anchor.test") as http:
            return await http.get("/healthz", headers={"host": host})

    assert asyncio.run(ask("anchor.test")).status_code == 200
    refused = asyncio.run(ask("rebound.example"))
    assert refused.status_code == 400
    assert refused.json()["type"] == PROBLEM_BASE + "untrusted-host"


async def client_address(request: Request) -> PlainTextResponse:
    """The client address the app sees, after uvicorn's proxy handling."""
    return PlainTextResponse(request.client.host if request.client else "")


ECHO = Starlette(routes=[Route("/", client_address)])


def served_client_address(edge: EdgeSection, forwarded_for: str) -> str:
    """Run uvicorn with the node's server options and ask it who the client is."""
    with LoopbackServer(ECHO, log_level="warning", **server_options(edge)) as served:
        answer = httpx.get(served.url + "/", headers={"x-forwarded-for": forwarded_for}, timeout=5)
        return answer.text


def test_a_forged_x_forwarded_for_from_loopback_is_not_believed_by_default() -> None:
    assert served_client_address(EdgeSection(), "203.0.113.9") == "127.0.0.1"
    assert server_options(EdgeSection())["proxy_headers"] is False


def test_a_configured_proxy_is_believed() -> None:
    edge = EdgeSection(trusted_proxies=["127.0.0.1"])
    assert served_client_address(edge, "203.0.113.9") == "203.0.113.9"


def test_a_form_past_the_field_or_file_bounds_is_refused_before_the_csrf_check(
    node: RegisterNode,
) -> None:
    fields = {f"f{index}": "x" for index in range(FORM_MAX_FIELDS + 1)}
    too_many = node.http.request("POST", "/operator/sign-in", files={}, data=fields)
    with_file = node.http.request(
        "POST", "/operator/sign-in", files={"upload": ("a.txt", b"x")}, data={"token": "x"}
    )
    assert too_many.status_code == with_file.status_code == 400


# Every form goes through read_form: a FastAPI Form() parameter is parsed first with
# Starlette's defaults (1,000 fields, files allowed), and read_form is handed that parse.


def test_no_route_of_any_app_parses_a_form_outside_read_form(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    apps = build_role_apps(tmp_path_factory.mktemp("roles"))
    found = [
        f"{name}: {route.path}"
        for name, app in apps.items()
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.body_field is not None
        and isinstance(route.body_field.field_info, params.Form)  # what FastAPI parses first
    ]
    assert found == []


@pytest.mark.parametrize(("padding", "files"), PAST_THE_FORM_BOUNDS)
def test_a_sign_in_past_the_form_bounds_is_refused_and_signs_nobody_in(
    fed: Federation, alice: str, padding: dict[str, str], files: Files
) -> None:
    page = fed.charter.get("/sign-in")
    form = {"csrf_token": csrf_of(page), "email": ALICE, "password": PASSWORD, **padding}

    answer = fed.charter.post("/sign-in", data=form, files=files)

    assert answer.status_code == 400, answer.text
    assert not is_signed_in(fed)
    assert sign_in_form(fed, email=ALICE, password=PASSWORD).status_code == 303


@pytest.mark.parametrize(("padding", "files"), PAST_THE_FORM_BOUNDS)
def test_a_helper_form_past_the_form_bounds_is_refused_and_grants_nothing(
    fed: Federation, alice: str, bob: str, padding: dict[str, str], files: Files
) -> None:
    fed.sign_in_at_charter(ALICE)

    answer = add_helper(fed, files=files, **padding)

    assert answer.status_code == 400, answer.text
    assert delegations(fed) == []


@pytest.fixture
def consent_fed(tmp_path: Path, migrated_database_url: str) -> Iterator[consent_support.Federation]:
    """A charter on migrated_database_url and a People register on SQLite, running."""
    holder_db = f"sqlite:///{tmp_path / 'people.db'}"
    yield from consent_support.start_federation(tmp_path, migrated_database_url, holder_db)


@pytest.mark.parametrize(("padding", "files"), PAST_THE_FORM_BOUNDS)
def test_a_consent_answer_past_the_form_bounds_is_refused_and_decides_nothing(
    consent_fed: consent_support.Federation, padding: dict[str, str], files: Files
) -> None:
    fed = consent_fed
    person = fed.add_person("ada@example.org", "Ada Lovelace")
    fed.sign_in("ada@example.org")
    request_id = ask(fed, person)["request_id"]
    token = fed.browser.csrf(f"/consent/{request_id}")

    answer = fed.browser.post(
        f"/consent/{request_id}",
        data={"csrf_token": token, "answer": "no", **padding},
        files=files,
    )

    assert answer.status_code == 400, answer.text
    with fed.charter.sessions.begin() as session:
        request = session.get(ConsentRequest, request_id)
        assert request is not None and request.decided_at is None
