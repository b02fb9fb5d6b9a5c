"""The Alembic migrations build exactly what the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect, text

from digitalstate.storage import migrate
from digitalstate.storage.engine import make_engine


@pytest.fixture
def empty_engine(empty_database_url: str) -> Iterator[Engine]:
    """An engine on a database no migration has touched."""
    engine = make_engine(empty_database_url)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_an_empty_database_has_no_revision_until_upgraded(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_the_package_ships_one_head_revision() -> None:
    assert migrate.head_revision() is not None


def test_upgrade_to_head_creates_the_federation_documents_table(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    assert {"federation_documents", "alembic_version"} <= _tables(empty_engine)


def test_models_agree_with_the_migrations_after_upgrade(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.check(empty_engine)  # raises alembic's CommandError on any drift


def test_upgrading_twice_changes_nothing(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    migrate.check(empty_engine)


def test_downgrade_to_base_removes_every_table_and_upgrade_builds_them_again(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine)
    command.downgrade(migrate.alembic_config(empty_engine), "base")
    assert migrate.current_revision(empty_engine) is None
    assert _tables(empty_engine) <= {"alembic_version"}

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    migrate.check(empty_engine)


def test_check_fails_when_the_database_drifts_from_the_models(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("ALTER TABLE federation_documents ADD COLUMN stray INTEGER"))
    with pytest.raises(CommandError, match="stray"):
        migrate.check(empty_engine)


def test_upgrading_keeps_each_delegation_with_its_helpers_email(empty_engine: Engine) -> None:
    command.upgrade(migrate.alembic_config(empty_engine), "0007")
    with empty_engine.begin() as connection:
        for person in ("alice", "bob"):
            connection.execute(
                text(
                    "INSERT INTO people (id, email, password_hash, display_name,"
                    " level_of_assurance, created_at) VALUES (:id, :email, 'x', :id, 'low',"
                    " CURRENT_TIMESTAMP)"
                ),
                {"id": person, "email": f"{person}@example.test"},
            )
        connection.execute(
            text(
                "INSERT INTO delegations (id, person_id, helper_id, scope, created_at,"
                " expires_at) VALUES ('d', 'alice', 'bob', 'consent', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"
            )
        )

    migrate.upgrade(empty_engine)

    with empty_engine.connect() as connection:
        kept = connection.execute(text("SELECT helper_id, helper_email FROM delegations"))
        assert kept.all() == [("bob", "bob@example.test")]
    migrate.check(empty_engine)


def test_upgrading_gives_each_code_its_nonce_hash_and_keeps_one_code_per_client_and_nonce(
    empty_engine: Engine,
) -> None:
    command.upgrade(migrate.alembic_config(empty_engine), "0015")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO people (id, email, password_hash, display_name,"
                " level_of_assurance, created_at) VALUES ('alice', 'alice@example.test', 'x',"
                " 'Alice', 'low', CURRENT_TIMESTAMP)"
            )
        )
        for code, client, nonce in (("a", "rp", "n1"), ("b", "rp", "n1"), ("c", "tax", "n1")):
            connection.execute(
                text(
                    "INSERT INTO oidc_codes (code, client_id, person_id, redirect_uri, scope,"
                    " nonce, code_challenge, code_challenge_method, auth_time, expires_at,"
                    " used) VALUES (:code, :client, 'alice', 'https://rp.test/auth/callback',"
                    " 'openid', :nonce, 'c', 'S256', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
                    " false)"
                ),
                {"code": code, "client": client, "nonce": nonce},
            )

    migrate.upgrade(empty_engine)

    with empty_engine.connect() as connection:
        kept = connection.execute(text("SELECT code, nonce_hash FROM oidc_codes ORDER BY code"))
        digest = hashlib.sha256(b"n1").hexdigest()
        assert kept.all() == [("a", digest), ("c", digest)]
    migrate.check(empty_engine)


def test_the_newest_revision_is_read_from_the_scripts_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[object] = []
    real = migrate.ScriptDirectory.from_config

    def counting(config: object) -> object:
        reads.append(config)
        return real(config)  # type: ignore[arg-type]

    migrate.head_revision.cache_clear()
    monkeypatch.setattr(migrate.ScriptDirectory, "from_config", counting)
    first, second = migrate.head_revision(), migrate.head_revision()

    assert first == second is not None
    assert len(reads) == 1
