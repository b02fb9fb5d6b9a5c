"""[database] pool_size and max_overflow: how many PostgreSQL connections a node's process keeps
and may open (docs/configuration.md); refused at load in one line when out of bounds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from digitalstate.federation.anchor import AnchorRuntime
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.setup import ANCHOR_CONFIG, init_anchor
from digitalstate.settings import SettingsError, load_anchor_settings, load_node_settings
from digitalstate.storage.engine import make_engine
from digitalstate.storage.migrate import current_revision, head_revision, upgrade
from support.nodes import node_runtime, node_settings

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@contextmanager
def node_engine(directory: Path, url: str, pool_size: int, max_overflow: int) -> Iterator[Engine]:
    """The engine of a node on url whose settings say pool_size and max_overflow."""
    settings = node_settings(
        directory,
        "people-register",
        url,
        extra={"database": {"pool_size": pool_size, "max_overflow": max_overflow}},
    )
    engine = node_runtime(settings).engine
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.postgres
@ON_POSTGRESQL
def test_a_node_keeps_and_opens_no_more_connections_than_its_settings_say(
    tmp_path: Path, migrated_database_url: str
) -> None:
    with node_engine(tmp_path, migrated_database_url, 2, 1) as engine:
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        held = [engine.connect() for _ in range(3)]
        assert pool.checkedout() == 3 and pool.overflow() == 1
        for connection in held:
            connection.close()
        assert pool.checkedin() == 2, "the overflow connection is closed, the others kept"


@pytest.mark.postgres
@ON_POSTGRESQL
def test_a_node_with_a_pool_of_one_connection_migrates_its_database(
    tmp_path: Path, empty_database_url: str
) -> None:
    # The migrations run on the connection that holds the migration lock: on a second one
    # they waited for the pool's one connection, which that lock held.
    with node_engine(tmp_path, empty_database_url, 1, 0) as engine:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()


@pytest.mark.postgres
@ON_POSTGRESQL
def test_the_trust_anchor_keeps_the_pool_its_settings_say(
    tmp_path: Path, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_anchor(
        tmp_path,
        federation="test federation",
        base_url="http://127.0.0.1:8100",
        host="127.0.0.1",
        port=8100,
        catalogue=load_catalogue(None),
        validity_hours=24,
        now=datetime.now(UTC),
        database_url=migrated_database_url,
    )
    monkeypatch.setenv("DIGITALSTATE_DATABASE__POOL_SIZE", "2")
    monkeypatch.setenv("DIGITALSTATE_DATABASE__MAX_OVERFLOW", "0")
    engine = AnchorRuntime.build(load_anchor_settings(tmp_path / ANCHOR_CONFIG)).engine
    try:
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.size() == 2 and pool._max_overflow == 0  # SQLAlchemy has no public reader
    finally:
        engine.dispose()


def test_the_defaults_are_ten_kept_and_ten_more_for_a_while() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:9/none")
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.size() == 10 and pool._max_overflow == 10  # SQLAlchemy has no public reader


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        ("pool_size = 0", "pool_size", "greater than or equal to 1"),
        ("max_overflow = -1", "max_overflow", "greater than or equal to 0"),
    ],
)
def test_a_pool_out_of_bounds_is_refused_in_one_line(
    tmp_path: Path, line: str, key: str, problem: str
) -> None:
    settings = node_settings(tmp_path, "people-register", "")
    path = tmp_path / "node.toml"
    path.write_text(path.read_text() + f"\n[database]\n{line}\n")
    with pytest.raises(SettingsError) as refused:
        load_node_settings(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message
    assert f"[database] {key}" in message and problem in message, message
    assert settings.database.pool_size == 10, "the file was valid before the line was added"
