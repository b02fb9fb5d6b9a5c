"""Every route of every node role, of the trust anchor and of the mail catcher builds.

A Router's routes get their FastAPI state when first used (routing.py, ADR 0033), so an error
in a route's declaration would otherwise show only when a request first reached it.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from digitalstate.mail.catcher import create_catcher_app
from digitalstate.routing import DeferredRoute
from security.support import ANCHOR_APP, ROLE_NODES, build_role_apps


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    """An app of every node role, the trust anchor's and the mail catcher's, never started."""
    directory = tmp_path_factory.mktemp("roles")
    every = build_role_apps(directory)
    every["mail-catcher"] = create_catcher_app(
        directory / "catcher", base_url="https://catcher.test", smtp_host="", smtp_port=None
    )
    return every


def test_every_route_builds_and_each_role_has_deferred_routes(apps: dict[str, FastAPI]) -> None:
    assert set(apps) == {*ROLE_NODES, ANCHOR_APP, "mail-catcher"}
    deferred: dict[str, int] = {}
    for name, app in apps.items():
        routes = [r for r in app.router.routes if isinstance(r, DeferredRoute)]
        for route in routes:
            route.build()
            assert route.built and route.dependant.call is route.endpoint, route.path
        deferred[name] = len(routes)
    # Every node's and the catcher's are deferred; the anchor's few are the app's own.
    assert all(deferred[name] > 0 for name in (*ROLE_NODES, "mail-catcher")), deferred


def test_the_openapi_document_of_each_role_is_whole(apps: dict[str, FastAPI]) -> None:
    for name, app in apps.items():
        paths = app.openapi()["paths"]
        described = {
            r.path
            for r in app.router.routes
            if isinstance(r, DeferredRoute) and r.include_in_schema
        }
        assert described <= set(paths), (name, described - set(paths))
