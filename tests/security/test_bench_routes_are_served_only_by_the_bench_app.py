"""The unsigned bench routes are mounted by the benchmarks' own app factory, never by a node's.

Under /bench/unsigned a node reads and changes any person's record with no signature, consent
or access record (benchmarks/mirror.py). The production factory (app.py) has no way to
mount them, whatever the settings say; the setting that once did is refused by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from digitalstate.app import create_node_app
from digitalstate.benchmarks.app import create_bench_node_app
from digitalstate.federation.domain import ROLES
from digitalstate.node.runtime import NodeRuntime
from digitalstate.settings import SettingsError, load_node_settings
from security.support import build_role_apps, role_settings, route_table

BENCH = "/bench"
MIRROR_ROUTES = {
    "/bench/unsigned/services",
    "/bench/unsigned/records/{pseudonym}",
    "/bench/unsigned/timings",
    "/bench/unsigned/timings/reset",
    "/bench/unsigned/change",
    "/bench/unsigned/told/{pseudonym}/{version}",
}


def _paths(app: FastAPI) -> set[str]:
    return {path for _method, path in route_table(app)}


def _bench_paths(app: FastAPI) -> set[str]:
    return {path for path in _paths(app) if path.startswith(BENCH)}


def test_no_production_app_serves_a_bench_route(tmp_path: Path) -> None:
    every_role = role_settings(tmp_path, "every-role", list(ROLES))
    apps = {"every-role": create_node_app(every_role), **build_role_apps(tmp_path)}

    for name, app in apps.items():
        assert _bench_paths(app) == set(), name
        node = getattr(app.state, "node", None)
        assert node is None or node.check_timer is None, name


def test_the_bench_factory_adds_the_bench_routes_to_the_production_app(tmp_path: Path) -> None:
    settings = role_settings(tmp_path, "bench-register", ["register"])

    app = create_bench_node_app(settings)

    assert _bench_paths(app) == MIRROR_ROUTES
    assert _paths(create_node_app(settings)) == _paths(app) - MIRROR_ROUTES
    node: NodeRuntime = app.state.node
    assert node.check_timer is not None  # the register's consent checks are timed


def test_a_bench_node_that_is_no_register_has_only_the_service_list(tmp_path: Path) -> None:
    app = create_bench_node_app(role_settings(tmp_path, "bench-service", ["service"]))

    assert _bench_paths(app) == {"/bench/unsigned/services"}
    assert app.state.node.check_timer is None


def test_the_bench_factory_refuses_a_node_off_loopback(tmp_path: Path) -> None:
    settings = role_settings(tmp_path, "bench-register", ["register"])
    settings.node.host = "0.0.0.0"  # the address refused

    with pytest.raises(SettingsError) as refused:
        create_bench_node_app(settings)

    assert str(refused.value) == (
        f"{settings.config_path}: [node] host: the bench's unsigned routes are served only on "
        "a loopback address, not '0.0.0.0'; fix: set it to 127.0.0.1"
    )


REMOVED = (
    "[exchange] bench_unsigned_mirror: removed: no node serves the unsigned bench routes; "
    "'digitalstate bench' starts its own nodes with them"
)


def test_a_file_that_still_turns_the_removed_setting_on_is_told_it_was_removed(
    tmp_path: Path,
) -> None:
    config = role_settings(tmp_path, "old-bench", ["register"]).config_path
    assert config is not None
    config.write_text(config.read_text() + "\n[exchange]\nbench_unsigned_mirror = true\n")

    with pytest.raises(SettingsError) as refused:
        load_node_settings(config)

    assert str(refused.value) == f"{config}: {REMOVED}; fix: remove it from the file"


def test_a_variable_that_still_turns_the_removed_setting_on_is_told_it_was_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = role_settings(tmp_path, "old-bench", ["register"]).config_path
    assert config is not None
    variable = "DIGITALSTATE_EXCHANGE__BENCH_UNSIGNED_MIRROR"
    monkeypatch.setenv(variable, "true")

    with pytest.raises(SettingsError) as refused:
        load_node_settings(config)

    assert str(refused.value) == (
        f"{config}: {REMOVED} (from the environment variable {variable}, which overrides the "
        f"file); fix: unset {variable}"
    )
