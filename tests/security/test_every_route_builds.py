"""Every route of every node role, of the benchmarks' node, of the trust anchor and of the mail
catcher builds, and is the same route before and after.

A Router's routes get their FastAPI state when first used (routing.py, ADR 0033), so an error
in a route's declaration would otherwise show only when a request first reached it.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from digitalstate.benchmarks.app import create_bench_node_app
from digitalstate.mail.catcher import create_catcher_app
from digitalstate.routing import DeferredRoute
from security.support import ANCHOR_APP, ROLE_NODES, build_role_apps, role_settings

# What a DeferredRoute makes at once, for matching and URLs, before FastAPI's state.
AT_ONCE = (
    "path",
    "endpoint",
    "name",
    "path_regex",
    "path_format",
    "param_convertors",
    "methods",
    "include_in_schema",
    "response_class",
)
WITHOUT_A_SCHEMA = ("mail-catcher",)


@pytest.fixture
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    """An app of every node role, a bench node's, the anchor's and the catcher's, never started."""
    directory = tmp_path_factory.mktemp("roles")
    every = build_role_apps(directory)
    every["bench-register"] = create_bench_node_app(
        role_settings(directory, "bench-register", ["register"])
    )
    every["mail-catcher"] = create_catcher_app(
        directory / "catcher", base_url="https://catcher.test", smtp_host="", smtp_port=None
    )
    return every


def _deferred(app: FastAPI) -> list[DeferredRoute]:
    return [r for r in app.router.routes if isinstance(r, DeferredRoute)]


def _at_once(route: DeferredRoute) -> tuple[Any, ...]:
    return tuple(getattr(route, name) for name in AT_ONCE)


def test_every_route_builds_into_the_route_it_was(apps: dict[str, FastAPI]) -> None:
    assert set(apps) == {*ROLE_NODES, ANCHOR_APP, "bench-register", "mail-catcher"}
    for name, app in apps.items():
        routes = _deferred(app)
        # Every app's routes are deferred but the few its factory adds itself.
        assert routes, name
        for route in routes:
            assert not route.built, (name, route.path)
            before = _at_once(route)
            route.build()
            assert route.built and route.dependant.call is route.endpoint, (name, route.path)
            assert _at_once(route) == before, (name, route.path)


def test_the_openapi_document_builds_only_the_routes_it_describes(
    apps: dict[str, FastAPI],
) -> None:
    for name, app in apps.items():
        if name in WITHOUT_A_SCHEMA:
            continue
        paths = app.openapi()["paths"]
        routes = _deferred(app)
        described = [r for r in routes if r.include_in_schema]
        assert {r.path for r in described} <= set(paths), name
        assert [r for r in routes if r.built] == described, name
