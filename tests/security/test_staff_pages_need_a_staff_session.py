"""Staff pages open only for the node's own signed-in staff (DESIGN §8, §10).

Every route classified staff in security/support.py, on every app that serves it, is called
without a session and with a cookie of people's pages sealed under the node's own key: it
must send the browser to the staff sign-in page (the people's cookie is not even read there,
so the apps need no database). Only service nodes serve staff routes at all. The same holds
in depth, signed in, in tests/integration/test_staff_pages.py and test_staff_nodes.py.
"""

from __future__ import annotations

import base64
import json

import pytest
from fastapi import FastAPI

from digitalstate.web.session import (
    SESSION_ID_KEY,
    SealedCookie,
    load_or_create_session_key,
    session_cookie_name,
)
from security.support import ROLE_NODES, STAFF, build_role_apps, call_unstarted, routes_of_kind


@pytest.fixture(scope="module")
def role_apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    """An app of every node role and the trust anchor's, built once, never started."""
    return build_role_apps(tmp_path_factory.mktemp("roles"))


def test_only_service_nodes_serve_staff_pages(role_apps: dict[str, FastAPI]) -> None:
    for name, app in role_apps.items():
        serves = bool(routes_of_kind(app, STAFF))
        assert serves == ("service" in ROLE_NODES.get(name, [])), name


def peoples_cookie(app: FastAPI, name: str) -> str:
    """A Cookie header with a people's session cookie of the node, sealed under its key."""
    key = load_or_create_session_key(app.state.node.settings.data_dir)
    session = json.dumps({SESSION_ID_KEY: "a-persons-session-id", "csrf": "token"})
    sealed = SealedCookie(key).sign(base64.b64encode(session.encode())).decode()
    return f"{session_cookie_name(name)}={sealed}"


def test_every_staff_route_without_a_staff_session_goes_to_the_staff_sign_in(
    role_apps: dict[str, FastAPI],
) -> None:
    tried = 0
    for name, app in role_apps.items():
        for method, path in routes_of_kind(app, STAFF):
            for headers in ({}, {"cookie": peoples_cookie(app, name)}):
                answer = call_unstarted(app, method, path, headers=headers)
                tried += 1

                assert answer.status == 303, f"{name}: {method} {path}: {answer.status}"
                assert answer.headers["location"].startswith("/staff/sign-in?next="), path
    assert tried >= 4
