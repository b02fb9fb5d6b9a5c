"""Shared parts of the security tests: every route of every app, classified, and the apps.

ROUTES says, for every route any node role or the trust anchor serves, who may call it:

- public: anyone (the protocol's own checks apply: OIDC clients, sign-in);
- person: a signed-in person, and only about themselves (or whom they help);
- staff: a signed-in member of the node's own staff, whose role allows it (service nodes);
- operator: the node's operator (loopback only, or the operator's own credential);
- exchange: a member, with a signed request (RFC 9421), checked against its grounds;
- static: files that are the same for everyone.

A route missing from ROUTES, or an entry no app serves any more, fails the classification
test: a new route forces a decision about who may call it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from digitalstate.app import create_anchor_app, create_node_app
from digitalstate.demo.federation import service_setting
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.setup import init_anchor
from digitalstate.keys import KeyPair
from digitalstate.settings import NodeSettings
from integration.consent_support import federation_document
from support.clients import InProcessClient
from support.federation import ANCHOR, hold, member, member_of
from support.nodes import node_runtime, node_settings

PUBLIC = "public"
PERSON = "person"
STAFF = "staff"
OPERATOR = "operator"
EXCHANGE = "exchange"
STATIC = "static"
ANY_METHOD = "*"

_PUBLIC = (
    "GET /",
    "GET /openapi.json",
    "GET /healthz",
    "GET /readyz",
    "GET /.well-known/digitalstate/federation",
    "GET /.well-known/digitalstate/checkpoint",
    "GET /.well-known/digitalstate/log/checkpoint/{size}",
    "GET /.well-known/digitalstate/log/inclusion",
    "GET /.well-known/digitalstate/log/consistency",
    "GET /.well-known/digitalstate/log/leaves",
    # Feedback (docs/feedback.md): anyone may answer the satisfaction question and tell a
    # story; only published stories are read back, in pages, the feed, the API and datasets.
    "GET /feedback/{slug}",
    "POST /feedback/{slug}",
    "GET /feedback/{slug}/thanks",
    "GET /stories",
    "GET /stories/tell",
    "POST /stories/tell",
    "GET /stories/tell/sent",
    "GET /stories/feed.atom",
    "GET /stories/services/{slug}",
    "GET /stories/nodes/{member}",
    "GET /stories/{story_id}",
    "GET /api/v1/stories",
    "GET /api/v1/stories/{story_id}",
    "GET /.well-known/openid-configuration",
    "GET /oidc/jwks",
    # The OIDC protocol checks the request (client, redirect, PKCE) before asking to sign in.
    "GET /oidc/authorize",
    "POST /oidc/token",
    "GET /sign-in",
    "POST /sign-in",
    "POST /sign-out",
    "GET /auth/sign-in",
    "GET /auth/callback",
    "POST /auth/sign-out",
    "GET /service",
    # A declared service's start page, and what the node's services ask (their e-forms).
    "GET /services/{slug}",
    "GET /api/v1/services",
    "GET /api/v1/services/{slug}/eform",
    # The node's service performance: dashboards and datasets of suppressed counts by month.
    "GET /performance",
    "GET /performance/{slug}",
    # The operator's sign-in form: it takes the operator token, and gives nothing without it.
    "GET /operator/sign-in",
    "POST /operator/sign-in",
    # Staff sign in with their node's own accounts (throttled like /sign-in), and out.
    "GET /staff/sign-in",
    "POST /staff/sign-in",
    "POST /staff/sign-out",
    # Open data: what a node publishes is for anyone (docs/opendata.md).
    "GET /datasets",
    "GET /datasets.json",
    "GET /datasets/{name}",
    "GET /datasets/{name}/datapackage.json",
    "GET /datasets/{name}/versions.json",
    "GET /datasets/{name}/{file}",
    # The open data portal's CKAN-compatible Action API: reads for anyone (POST is CKAN's way
    # of sending parameters, and changes nothing).
    "GET /api/3/action/{action}",
    "POST /api/3/action/{action}",
    "GET /api/action/{action}",
    "POST /api/action/{action}",
    "GET /catalogue",
    "GET /catalogue.ttl",
    "GET /catalogue.jsonld",
    "GET /catalogue/{publisher}/{name}",
    "GET /catalogue/{publisher}/{name}/{file}",
)
_PERSON = (
    "POST /oidc/authorize",
    "GET /my",
    "POST /my/sign-out-everywhere",
    "GET /my/helpers",
    "POST /my/helpers",
    "POST /my/helpers/{delegation_id}/revoke",
    "GET /consent/{request_id}",
    "POST /consent/{request_id}",
    "GET /my/consents",
    "GET /my/consents/{consent_id}",
    "GET /my/consents/{consent_id}/receipt.json",
    "GET /my/consents/{consent_id}/withdraw",
    "POST /my/consents/{consent_id}/withdraw",
    "GET /my/activity",
    "GET /my/activity.json",
    "GET /my/activity.csv",
    "GET /my/details",
    "GET /my/details/address",
    "POST /my/details/address",
    "GET /my/details/changes/{version}",
    "GET /service/details",
    "POST /service/details",
    "GET /service/consent-return",
    "GET /services/{slug}/begin",
    "POST /services/{slug}/consent",
    "GET /services/{slug}/consent-return",
    "GET /services/{slug}/check-answers",
    "POST /services/{slug}/submit",
    "GET /services/{slug}/leave",
    "POST /services/{slug}/leave",
    "GET /services/{slug}/not-eligible",
    "GET /services/{slug}/confirmation/{reference}",
    "GET /services/{slug}/{page_id}",
    "POST /services/{slug}/{page_id}",
    "GET /applications",
    "GET /applications/{reference}",
    "GET /applications/{reference}/withdraw",
    "POST /applications/{reference}/withdraw",
    "GET /api/v1/applications",
    "GET /api/v1/applications/{reference}",
    # Register to vote's evidence: the applicant's own application, when it asks for some.
    "GET /applications/{reference}/evidence",
    "POST /applications/evidence",
)
_STAFF = (
    "GET /staff",
    # The queue and case pages (the node's own staff; a manager decides an assisted one).
    "GET /staff/applications",
    "GET /staff/applications/{reference}",
    "GET /staff/applications/{reference}/files/{file_id}",
    "POST /staff/applications/{reference}/in-review",
    "POST /staff/applications/{reference}/decision",
    "POST /staff/applications/{reference}/notes",
    # Assisted digital: a journey filled in by staff with a person (cases the staff hold).
    "GET /staff/assisted",
    "POST /staff/assisted/{slug}/start",
    "GET /staff/assisted/{slug}/{case}/check-answers",
    "POST /staff/assisted/{slug}/{case}/submit",
    "GET /staff/assisted/{slug}/{case}/not-eligible",
    "GET /staff/assisted/{slug}/{case}/leave",
    "POST /staff/assisted/{slug}/{case}/leave",
    "GET /staff/assisted/{slug}/{case}/confirmation/{reference}",
    "GET /staff/assisted/{slug}/{case}/{page_id}",
    "POST /staff/assisted/{slug}/{case}/{page_id}",
    # Experiments: each variant's figures (any of the staff) and stopping one (a manager).
    "GET /staff/experiments",
    "GET /staff/experiments/{slug}/{experiment}",
    "POST /staff/experiments/{slug}/{experiment}/stop",
    # Stories: moderation, answers and subscriptions (any member of the node's staff).
    "GET /staff/stories",
    "GET /staff/stories/subscriptions",
    "POST /staff/stories/subscriptions",
    "GET /staff/stories/{story_id}",
    "POST /staff/stories/{story_id}/publish",
    "POST /staff/stories/{story_id}/reject",
    "POST /staff/stories/{story_id}/responses",
)
_OPERATOR = (
    "GET /metrics",
    "GET /operator/log",
    "POST /operator/log/alarms/{alarm_id}/clear",
    "GET /operator/outbox",
    "POST /operator/outbox/retry-dead",
    "POST /operator/outbox/{message_id}/retry",
    "GET /operator/email",
    "POST /operator/email/test",
)
_EXCHANGE = (
    "GET /exchange/v1/services",
    "GET /exchange/v1/datasets",
    "GET /exchange/v1/datasets/{name}/datapackage.json",
    "GET /exchange/v1/datasets/{name}/{file}",
    "POST /exchange/v1/consent-requests",
    "POST /exchange/v1/consent-requests/{request_id}/outcome",
    "POST /exchange/v1/basis-reads",
    "POST /exchange/v1/basis-matches",
    "POST /exchange/v1/records/read",
    "POST /exchange/v1/records/match",
    "POST /exchange/v1/consents",
    "POST /exchange/v1/consents/{consent_id}/withdrawal",
    "POST /exchange/v1/notices",
    "POST /exchange/v1/log/cosignatures",
    "POST /exchange/v1/access-records",
    "POST /exchange/v1/log/entries",
)
_STATIC = ("* /static",)


def _entries(kind: str, lines: Iterable[str]) -> dict[tuple[str, str], str]:
    return {(line.split(" ", 1)[0], line.split(" ", 1)[1]): kind for line in lines}


ROUTES: dict[tuple[str, str], str] = {
    **_entries(PUBLIC, _PUBLIC),
    **_entries(PERSON, _PERSON),
    **_entries(STAFF, _STAFF),
    **_entries(OPERATOR, _OPERATOR),
    **_entries(EXCHANGE, _EXCHANGE),
    **_entries(STATIC, _STATIC),
}

# One node per role (and the two roles together, as liverpool-pensions runs them). The service
# nodes are ones the demo catalogue has a service for, so that their service pages exist.
ROLE_NODES: dict[str, list[str]] = {
    "charter": ["charter"],
    "people-register": ["register"],
    "electoral-registration": ["service"],
    "liverpool-pensions": ["register", "service"],
    "birmingham-social-care": ["register", "service"],  # a service with pages too
    "open-data": ["opendata"],
}
ANCHOR_APP = "trust-anchor"
FUZZER_ID = "fuzz-member"
FUZZER = KeyPair.from_seed(bytes(range(150, 182)))
PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) app answers, read from its own route table (HEAD goes with GET)."""
    table: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path
        assert path is not None, route
        if isinstance(route.original_route, Mount):
            table.add((ANY_METHOD, path))
            continue
        table.update((method, path) for method in route.methods or () if method != "HEAD")
    return table


def routes_of_kind(app: FastAPI, kind: str) -> list[tuple[str, str]]:
    """The (method, path) pairs of app classified as kind, in a stable order."""
    return sorted(r for r in route_table(app) if ROUTES.get(r) == kind)


def fill(path: str, values: Mapping[str, str]) -> str:
    """path with each {parameter} replaced by values[parameter] (a missing one fails)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"{path}: no test value for {{{name}}}; add one to the test"
        return values[name]

    return PARAMETER.sub(value, path)


def role_settings(directory: Path, member_id: str, roles: list[str]) -> NodeSettings:
    """Settings and a key for a node with roles in directory/member_id, on SQLite.

    Each sends email ([email]), so that its email routes are served too; no message is sent.
    """
    email: dict[str, dict[str, Any]] = {
        "email": {
            "smtp_host": "127.0.0.1",
            "smtp_port": 2525,
            "from_address": f"{member_id}@example.test",
            "starttls": False,
        }
    }
    return node_settings(
        directory / member_id,
        member_id,
        f"sqlite:///{directory / member_id}.db",
        name=f"{member_id} (security tests)",
        roles=roles,
        base_url=f"https://{member_id}.test",
        extra={**service_setting(member_id, roles), **email},
    )


def build_role_apps(directory: Path) -> dict[str, FastAPI]:
    """One app per node role in ROLE_NODES, and the trust anchor's, not started.

    The nodes hold one federation document naming them all and FUZZER_ID (every role), whose
    key the tests hold; no node reaches a trust anchor or runs background work.
    """
    every = {m: role_settings(directory, m, roles) for m, roles in ROLE_NODES.items()}
    fuzzer = member(
        FUZZER_ID,
        FUZZER,
        name="A member the tests play",
        roles=("charter", "register", "service"),
    )
    document = federation_document((*(member_of(s) for s in every.values()), fuzzer))
    hold(document, *every.values(), anchor=ANCHOR)
    apps: dict[str, FastAPI] = {}
    for member_id, settings in every.items():
        runtime = node_runtime(settings)
        apps[member_id] = create_node_app(settings, runtime)
        runtime.background.clear()  # requests only: no sequencer, witness or delivery
    anchor_settings, _ = init_anchor(
        directory / ANCHOR_APP,
        federation="security test federation",
        base_url="https://anchor.test",
        host="127.0.0.1",
        port=8100,
        catalogue=load_catalogue(),
        validity_hours=1,
        now=datetime.now(UTC),
        database_url=f"sqlite:///{directory / ANCHOR_APP}.db",
    )
    apps[ANCHOR_APP] = create_anchor_app(anchor_settings)
    return apps


@dataclass(frozen=True)
class Answer:
    """What an app answered: status, headers and body text."""

    status: int
    headers: httpx.Headers
    text: str


LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.9", 50000)  # TEST-NET-3: an address from outside


def call_unstarted(
    app: FastAPI, method: str, path: str, *, client: tuple[str, int] = LOOPBACK, **kwargs: Any
) -> Answer:
    """One request to app without starting it (no lifespan): for answers given before any work."""

    async def send() -> Answer:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url=own_base_url(app)) as http:
            response = await http.request(method, path, **kwargs)
            return Answer(response.status_code, response.headers, response.text)

    return asyncio.run(send())


def own_base_url(app: FastAPI) -> str:
    """The base URL app answers for (its Host check refuses any other)."""
    runtime = getattr(app.state, "node", None) or app.state.anchor
    return str(
        runtime.settings.node.base_url
        if hasattr(app.state, "node")
        else runtime.settings.anchor.base_url
    )


def base_url_of(app: FastAPI, name: str) -> str:
    """The base URL the node named name signs and verifies requests for."""
    return "https://anchor.test" if name == ANCHOR_APP else f"https://{name}.test"


def started(app: FastAPI, name: str) -> InProcessClient:
    """A client of app that runs its lifespan (enter it with `with`)."""
    return InProcessClient(app, base_url_of(app, name))
