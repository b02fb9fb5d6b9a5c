"""A node that runs book-a-prison-visit: [prisons] or no start, the questions its action reads,
what /readyz says, the `digitalstate prisons` commands, and the demo's register seeded the
same every time (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.demo.prisons import PRISONERS, PRISONS, SLOT_DAYS, seed_prisons
from digitalstate.prisons.domain import TIMEZONE
from digitalstate.prisons.models import Prison, Prisoner, VisitSlot
from digitalstate.storage.engine import make_engine, make_sessions
from integration.prisons_support import DEFINITION_FILE, prisons_node
from support.cli import fails, succeeds
from support.nodes import node_settings

MEMBER = "prisons"


def settings_file(
    directory: Path, database_url: str, files: list[str], sections: dict[str, Any] | None = None
) -> Path:
    """The node.toml of a service node running files, with sections besides."""
    settings = node_settings(
        directory / MEMBER,
        MEMBER,
        database_url,
        roles=["service"],
        extra={"services": {"files": files}, **(sections or {})},
    )
    assert settings.config_path is not None
    return settings.config_path


def test_a_node_that_runs_the_visit_service_without_prisons_does_not_start(
    tmp_path: Path, migrated_database_url: str
) -> None:
    config = settings_file(tmp_path, migrated_database_url, [str(DEFINITION_FILE)])
    line = fails("node", "serve", "--config", config)
    assert f"{DEFINITION_FILE}: submit.action: the 'prison-visit' action books visits" in line
    assert "fix: add a [prisons] section to the node's settings" in line

    lacking = tmp_path / "visit.toml"
    lacking.write_text(
        DEFINITION_FILE.read_text().replace('id = "prisoner-number"', 'id = "number"')
    )
    config = settings_file(
        tmp_path / "other", migrated_database_url, [str(lacking)], {"prisons": {}}
    )
    line = fails("node", "serve", "--config", config)
    assert (
        f"{lacking}: pages: the 'prison-visit' action reads the answer to 'prisoner-number'" in line
    )


def test_readyz_says_what_the_register_holds(tmp_path: Path, migrated_database_url: str) -> None:
    with prisons_node(tmp_path, migrated_database_url) as node:
        check = node.get("/readyz").json()["checks"]["prisons"]
    assert check["ok"] is True
    assert check["detail"].startswith(f"{len(PRISONS)} prisons, {len(PRISONERS)} prisoners, ")


def prisoner_args(config: Path, number: str) -> list[object]:
    """`digitalstate prisons prisoners add` of the demo's Callum Wright, as number, at Leeds."""
    args: list[object] = ["prisons", "prisoners", "add", "-c", config, "--prison", "leeds"]
    args += ["--number", number, "--given-names", "Callum", "--family-name", "Wright"]
    return [*args, "--date-of-birth", "1994-08-11"]


def test_an_operator_adds_prisons_prisoners_and_weekly_slots(
    tmp_path: Path, migrated_database_url: str
) -> None:
    config = settings_file(tmp_path, migrated_database_url, [], {"prisons": {}})
    assert succeeds(
        "prisons", "add", "-c", config, "--id", "leeds", "--name", "HMP Leeds"
    ).strip() == ("Added leeds (HMP Leeds)")
    assert "there already" in succeeds(
        "prisons", "add", "-c", config, "--id", "leeds", "--name", "X"
    )
    added = succeeds(*prisoner_args(config, "f1234mn"))
    assert added.strip() == "Added F1234MN at leeds"
    slots = ["prisons", "slots", "add", "-c", config, "--prison", "leeds"]
    slots += ["--start", "2026-10-19T14:00", "--minutes", "90", "--capacity", "8", "--weeks", "3"]
    assert succeeds(*slots).strip() == "Added 3 visit slots at leeds"
    assert succeeds(*slots).strip() == "Added 0 visit slots at leeds (3 there already)"

    engine = make_engine(migrated_database_url)
    try:
        with make_sessions(engine).begin() as session:
            rows = session.scalars(select(VisitSlot).order_by(VisitSlot.starts_at)).all()
            prisoner = session.scalars(select(Prisoner)).one()
    finally:
        engine.dispose()
    # Local times: 2pm in British Summer Time, then 2pm in GMT once the clocks go back.
    assert [r.starts_at.astimezone(TIMEZONE).strftime("%d %H:%M") for r in rows] == [
        "19 14:00",
        "26 14:00",
        "02 14:00",
    ]
    assert [r.starts_at.hour for r in rows] == [13, 14, 14]  # UTC; the clocks go back on 25th
    assert rows[0].ends_at - rows[0].starts_at == timedelta(minutes=90)
    assert (rows[0].capacity, rows[0].booked, prisoner.prison_number) == (8, 0, "F1234MN")

    assert "is not a prison number" in fails(*prisoner_args(config, "12"))
    unknown = [*slots[:5], "--prison", "nowhere", *slots[7:]]
    assert "there is no prison 'nowhere': add it first" in fails(*unknown)
    offset = [*slots[:8], "2026-10-19T14:00+01:00", *slots[9:]]
    assert "has an offset; give the prison's local time" in fails(*offset)
    plain = settings_file(tmp_path / "plain", migrated_database_url, [])
    line = fails("prisons", "add", "-c", plain, "--id", "leeds", "--name", "HMP Leeds")
    assert "keeps no prisons' register; add a [prisons] section" in line


def register_rows(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions.begin() as session:
        prisons = [(p.id, p.name) for p in session.scalars(select(Prison).order_by(Prison.id))]
        prisoners = [
            (p.prison_number, p.given_names, p.family_name, p.date_of_birth, p.prison_id)
            for p in session.scalars(select(Prisoner).order_by(Prisoner.prison_number))
        ]
        slots = [
            (s.prison_id, s.starts_at, s.ends_at, s.capacity, s.booked)
            for s in session.scalars(
                select(VisitSlot).order_by(VisitSlot.prison_id, VisitSlot.starts_at)
            )
        ]
    return [prisons, prisoners, slots]


def test_the_demo_seeds_the_same_register_every_time_and_tops_up_the_slots(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
    with sessions.begin() as session:
        first = seed_prisons(session, now)
    # 4 weeks: 4 Saturdays of two sessions and 20 weekdays of one, at each of 6 prisons.
    assert first == (20 + 4 * 2) * len(PRISONS)
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        from digitalstate.storage.migrate import upgrade

        upgrade(other)
        with make_sessions(other).begin() as session:
            seed_prisons(session, now)
        assert register_rows(make_sessions(other)) == register_rows(sessions)
    finally:
        other.dispose()
    with sessions.begin() as session:
        assert seed_prisons(session, now) == 0  # nothing twice
        days = session.scalars(select(VisitSlot.starts_at)).all()
    assert min(days).astimezone(TIMEZONE).date() == now.date() + timedelta(days=1)
    assert max(days).astimezone(TIMEZONE).date() == now.date() + timedelta(days=SLOT_DAYS)
    with sessions.begin() as session:  # a week later, the week after the last is added
        assert seed_prisons(session, now + timedelta(days=7)) == (5 + 2) * len(PRISONS)


def test_a_booking_window_that_ends_before_it_starts_is_refused_in_one_line(
    tmp_path: Path, migrated_database_url: str
) -> None:
    config = settings_file(tmp_path, migrated_database_url, [], {"prisons": {}})
    config.write_text(
        config.read_text().replace(
            "[prisons]", "[prisons]\nlead_working_days = 10\nhorizon_days = 12"
        )
    )
    line = fails("prisons", "add", "-c", config, "--id", "leeds", "--name", "HMP Leeds")
    assert "[prisons] horizon_days: " in line
    assert "ends before the first bookable day 10 working days ahead" in line
