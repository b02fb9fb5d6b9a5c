"""`digitalstate outbox list|retry` on a register node's database, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.keys import KeyPair
from digitalstate.node.setup import init_node
from digitalstate.registers.models import OutboxMessage
from support.cli import fails, succeeds

ANCHOR_KEY = KeyPair.from_seed(bytes(range(60, 92))).public.b64
MADE = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def make_config(directory: Path, database_url: str) -> Path:
    init_node(
        directory,
        member_id="people-register",
        name="People register",
        roles=["register"],
        host="127.0.0.1",
        port=8102,
        base_url="http://127.0.0.1:8102",
        anchor_url="http://127.0.0.1:8100",
        anchor_public_key=ANCHOR_KEY,
        database_url=database_url,
    )
    return directory / "node.toml"


@pytest.fixture
def config(tmp_path: Path, database_url: str, engine: object) -> Path:
    return make_config(tmp_path / "node", database_url)


def add(
    sessions: sessionmaker[Session],
    *,
    attempts: int = 0,
    dead: bool = False,
    delivered: bool = False,
) -> int:
    with sessions.begin() as session:
        row = OutboxMessage(
            idempotency_key=uuid.uuid4().hex,
            consent_id=str(uuid.uuid4()),
            requester="liverpool-pensions",
            pseudonym="p" * 32,
            fields=json.dumps(["people.address", "people.date_of_birth"]),
            version=4,
            created_at=MADE,
            attempts=attempts,
            next_attempt_at=MADE + timedelta(minutes=5),
            last_error="liverpool-pensions did not answer" if attempts else "",
            dead_at=MADE + timedelta(hours=48) if dead else None,
            delivered_at=MADE if delivered else None,
        )
        session.add(row)
        session.flush()
        return row.id


def row(sessions: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with sessions.begin() as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def test_list_shows_every_undelivered_notice_with_its_state_as_json(
    config: Path, sessions: sessionmaker[Session]
) -> None:
    waiting, failing, dead = add(sessions), add(sessions, attempts=3), add(sessions, dead=True)
    add(sessions, delivered=True)

    listed = json.loads(succeeds("outbox", "list", "--config", config, "--json"))

    assert [(n["id"], n["state"]) for n in listed] == [
        (waiting, "pending"),
        (failing, "failing"),
        (dead, "dead"),
    ]
    first = listed[1]
    assert first["requester"] == "liverpool-pensions"
    assert first["fields"] == ["people.address", "people.date_of_birth"]
    assert first["attempts"] == 3 and first["version"] == 4
    assert first["last_error"] == "liverpool-pensions did not answer"
    assert first["created_at"] == "2026-02-01T08:00:00+00:00"
    assert first["next_attempt_at"] == "2026-02-01T08:05:00+00:00"
    assert listed[2]["next_attempt_at"] is None
    assert listed[2]["dead_at"] == "2026-02-03T08:00:00+00:00"


def test_list_dead_shows_only_the_dead_letters_in_plain_lines(
    config: Path, sessions: sessionmaker[Session]
) -> None:
    add(sessions, attempts=2)
    dead = add(sessions, attempts=31, dead=True)

    output = succeeds("outbox", "list", "-c", config, "--dead")

    assert output.splitlines()[0] == f"{dead}  dead  to liverpool-pensions"
    assert "people.address, people.date_of_birth" in output
    assert "31 failed tries, dead-lettered 2026-02-03T08:00:00+00:00" in output
    assert "last error: liverpool-pensions did not answer" in output
    assert "failing" not in output
    assert json.loads(succeeds("outbox", "list", "-c", config, "--dead", "--json"))[0]["id"] == dead


def test_list_says_so_when_nothing_waits(config: Path) -> None:
    assert succeeds("outbox", "list", "-c", config).strip() == "No undelivered notices"
    assert succeeds("outbox", "list", "-c", config, "--dead").strip() == "No dead-lettered notices"
    assert succeeds("outbox", "list", "-c", config, "--json").strip() == "[]"


def test_retry_by_id_makes_the_notices_due_now_with_a_fresh_count(
    config: Path, sessions: sessionmaker[Session]
) -> None:
    dead, failing, untouched = add(sessions, dead=True), add(sessions, attempts=6), add(sessions)
    before = datetime.now(UTC)

    output = succeeds("outbox", "retry", "-c", config, "--id", dead, "--id", failing)

    assert output.strip() == f"2 notices will be sent again now: {dead}, {failing}"
    for message_id in (dead, failing):
        retried = row(sessions, message_id)
        assert retried.attempts == 0 and retried.dead_at is None
        assert before - timedelta(seconds=1) <= retried.next_attempt_at <= datetime.now(UTC)
    assert row(sessions, untouched).next_attempt_at == MADE + timedelta(minutes=5)


def test_retry_all_dead_retries_only_the_dead_letters(
    config: Path, sessions: sessionmaker[Session]
) -> None:
    dead = [add(sessions, dead=True) for _ in range(3)]
    failing = add(sessions, attempts=2)

    output = succeeds("outbox", "retry", "-c", config, "--all-dead")

    assert output.strip() == "3 notices will be sent again now: " + ", ".join(map(str, dead))
    assert all(row(sessions, d).dead_at is None for d in dead)
    assert row(sessions, failing).attempts == 2
    assert succeeds("outbox", "retry", "-c", config, "--all-dead").strip() == (
        "No dead-lettered notices to retry"
    )


def test_retry_of_an_unknown_or_delivered_id_fails_in_one_line_and_changes_nothing(
    config: Path, sessions: sessionmaker[Session]
) -> None:
    dead = add(sessions, dead=True)
    delivered = add(sessions, delivered=True)

    line = fails("outbox", "retry", "-c", config, "--id", dead, "--id", delivered, "--id", 999)

    assert f"no undelivered notice with id {delivered}, 999" in line
    assert "digitalstate outbox list" in line
    assert row(sessions, dead).dead_at is not None  # the whole retry was rolled back


@pytest.mark.parametrize(
    "options", [pytest.param([], id="neither"), pytest.param(["--id", 1, "--all-dead"], id="both")]
)
def test_retry_needs_either_ids_or_all_dead(config: Path, options: list[object]) -> None:
    line = fails("outbox", "retry", "-c", config, *options)
    assert "--id N" in line and "--all-dead" in line


def test_a_database_without_the_outbox_fails_in_one_line_naming_the_fix(tmp_path: Path) -> None:
    config = make_config(tmp_path / "fresh", "")
    line = fails("outbox", "list", "-c", config)
    assert "the node's database cannot be used" in line
    assert f"digitalstate db upgrade --config {config}" in line


def test_a_missing_config_fails_in_one_line(tmp_path: Path) -> None:
    line = fails("outbox", "list", "-c", tmp_path / "nope.toml")
    assert "no such settings file" in line
