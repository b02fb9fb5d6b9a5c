"""Seeding synthetic people into real databases, and the demo's `--people`/`--seed` set-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from digitalstate.demo.federation import (
    DEMO_NODES,
    LAYOUT_FILE,
    DemoLayout,
    demo_service,
    prepare,
)
from digitalstate.demo.journeys import journey_services
from digitalstate.demo.seed import DEMO_PASSWORD, SeedTargets, seed_people
from digitalstate.demo.spending import synthetic_payments
from digitalstate.demo.synthetic import make_person
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.identity.models import IssuedPseudonym, Person
from digitalstate.identity.pseudonyms import load_or_create_secret, pseudonym
from digitalstate.identity.service import active_delegation, grant_delegation, verify_password
from digitalstate.performance.figures import months_of, year_start
from digitalstate.performance.service import YEAR, stored_months
from digitalstate.registers.models import RegisterRecord
from digitalstate.services.definitions import load_service_definition, read_definitions
from digitalstate.settings import SettingsError, load_node_settings
from digitalstate.spending.service import payments_count
from digitalstate.storage import migrate
from digitalstate.storage.engine import make_engine, make_sessions
from support.demo import FEW_JOURNEYS

SECRET = bytes(range(32))
FIELDS = load_catalogue(None).fields


@pytest.fixture
def second_engine(tmp_path: Path) -> Iterator[Engine]:
    """A second, SQLite database, to compare a second seeding with."""
    engine = make_engine(f"sqlite:///{tmp_path / 'second.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def seed(engine: Engine, start: int, stop: int, **kwargs: Any) -> None:
    seed_people(
        SeedTargets(charter=engine, registers={"people-register": engine}),
        fields=FIELDS,
        secret=SECRET,
        seed=kwargs.pop("seed", 1),
        start=start,
        stop=stop,
        password_hash="the-hash",
        **kwargs,
    )


def rows(engine: Engine, table: Any, order: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(select(table).order_by(order)).mappings()
        return [
            {k: v for k, v in row.items() if k not in {"created_at", "updated_at", "issued_at"}}
            for row in result
        ]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def test_seeding_writes_accounts_records_and_issued_pseudonyms_in_chunks(engine: Engine) -> None:
    done: list[int] = []

    seed(engine, 0, 25, chunk=10, on_chunk=done.append)

    assert done == [10, 20, 25]
    assert count(engine, Person) == 25
    assert count(engine, RegisterRecord) == 25
    assert count(engine, IssuedPseudonym) == 25
    alice = make_person(1, 0)
    with engine.connect() as connection:
        data = connection.scalar(
            select(RegisterRecord.data).where(
                RegisterRecord.pseudonym == pseudonym(SECRET, "people-register", alice.person_id)
            )
        )
        mapped = connection.scalar(
            select(IssuedPseudonym.person_id)
            .where(IssuedPseudonym.member_id == "people-register")
            .where(
                IssuedPseudonym.pseudonym == pseudonym(SECRET, "people-register", alice.person_id)
            )
        )
    assert json.loads(data)["people.email"] == "alice.sample@example.org"
    assert mapped == alice.person_id


def test_seeding_again_adds_nothing_and_changes_nothing(engine: Engine) -> None:
    seed(engine, 0, 12, chunk=5)
    before = rows(engine, RegisterRecord, RegisterRecord.pseudonym)

    seed(engine, 0, 12, chunk=5)  # an interrupted run, carried on from an earlier chunk

    assert count(engine, Person) == 12
    assert rows(engine, RegisterRecord, RegisterRecord.pseudonym) == before


def test_the_same_seed_gives_identical_rows_in_another_database(
    engine: Engine, second_engine: Engine
) -> None:
    seed(engine, 0, 30, chunk=7)
    seed(second_engine, 0, 30, chunk=30)

    for table, order in (
        (Person, Person.id),
        (RegisterRecord, RegisterRecord.pseudonym),
        (IssuedPseudonym, IssuedPseudonym.pseudonym),
    ):
        assert rows(engine, table, order) == rows(second_engine, table, order)


def test_more_people_later_are_the_same_first_people_plus_new_ones(
    engine: Engine, second_engine: Engine
) -> None:
    seed(engine, 0, 10)
    seed(engine, 10, 20)
    seed(second_engine, 0, 20)
    assert rows(engine, Person, Person.id) == rows(second_engine, Person, Person.id)


def test_an_invitation_to_a_person_seeded_later_takes_effect_when_they_are_seeded(
    engine: Engine,
) -> None:
    seed(engine, 0, 1)
    alice, later = make_person(1, 0), make_person(1, 1)
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        grant_delegation(
            session,
            person_id=alice.person_id,
            helper_email=later.email,
            scope="consent",
            expires_at=now + timedelta(days=1),
            now=now,
        )

    seed(engine, 1, 2)

    with Session(engine) as session:
        assert active_delegation(session, later.person_id, alice.person_id, "consent", now)


def test_no_register_row_contains_an_internal_person_id(engine: Engine) -> None:
    seed(engine, 0, 20)
    with engine.connect() as connection:
        dumped = json.dumps(
            [list(r) for r in connection.execute(select(RegisterRecord.__table__))], default=str
        )
        ids = list(connection.scalars(select(Person.id)))
    assert len(ids) == 20
    assert not any(person_id in dumped for person_id in ids)


# the demo's data directory --------------------------------------------------------------


def demo_counts(layout: DemoLayout) -> dict[str, int]:
    out: dict[str, int] = {}
    for node in DEMO_NODES:
        settings = load_node_settings(layout.node_config(node))
        engine = make_engine(settings.database_url)
        try:
            with engine.connect() as connection:
                table = "people" if node.id == "charter" else "register_records"
                if migrate.current_revision(engine) is None:
                    out[node.id] = 0
                    continue
                out[node.id] = int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
        finally:
            engine.dispose()
    return out


def test_the_demo_seeds_every_register_consistently_once(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    now = datetime.now(UTC)
    seen: list[tuple[int, int]] = []

    def twelve() -> None:  # prepare twelve people, recording its progress in seen
        prepare(
            layout,
            now,
            people=12,
            seed=3,
            progress=lambda *p: seen.append(p),
            journeys=FEW_JOURNEYS,
        )

    twelve()

    marker = json.loads((layout.data_dir / LAYOUT_FILE).read_text())
    assert marker == {"base_port": 18100, "people": 12, "seed": 3}
    assert seen[-1] == (12, 12)
    counts = demo_counts(layout)
    assert counts == {
        "charter": 12,
        "people-register": 12,
        "swansea-motoring": 12,
        "newcastle-tax": 12,
        "liverpool-pensions": 12,
        "birmingham-social-care": 0,
        "manchester-planning": 0,
        "electoral-registration": 12,
        "prisons": 0,
        "opendata": 0,
    }
    # The register knows Alice under the pseudonym sign-in will give it.
    charter = load_node_settings(layout.node_config(DEMO_NODES[0]))
    secret = load_or_create_secret(charter.data_dir)
    alice = make_person(3, 0)
    tax = load_node_settings(layout.node_config(DEMO_NODES[3]))
    engine = make_engine(tax.database_url)
    try:
        with engine.connect() as connection:
            data = connection.scalar(
                select(RegisterRecord.data).where(
                    RegisterRecord.pseudonym == pseudonym(secret, "newcastle-tax", alice.person_id)
                )
            )
    finally:
        engine.dispose()
    assert json.loads(data)["tax.national_insurance_number"] == alice.nino
    engine = make_engine(charter.database_url)
    try:
        with engine.connect() as connection:
            hashed = connection.scalar(
                select(Person.password_hash).where(Person.email == "alice.sample@example.org")
            )
    finally:
        engine.dispose()
    assert verify_password(hashed, DEMO_PASSWORD)

    # The same again does nothing; more people adds the missing ones.
    seen.clear()
    twelve()
    assert seen == []
    prepare(layout, now, people=15, seed=3, journeys=FEW_JOURNEYS)
    assert demo_counts(layout)["liverpool-pensions"] == 15
    assert json.loads((layout.data_dir / LAYOUT_FILE).read_text())["people"] == 15


def test_the_demo_refuses_another_seed_over_existing_people(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    prepare(layout, datetime.now(UTC), people=3, seed=1, journeys=FEW_JOURNEYS)

    with pytest.raises(SettingsError) as refused:
        prepare(layout, datetime.now(UTC), people=3, seed=2, journeys=FEW_JOURNEYS)

    message = str(refused.value)
    assert "\n" not in message
    assert "--seed 1" in message
    assert "--data-dir" in message


def test_each_demo_service_node_names_its_own_copy_of_its_service_file(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    prepare(layout, datetime.now(UTC), people=1, seed=1, journeys=FEW_JOURNEYS)
    pensions = next(n for n in DEMO_NODES if n.id == "liverpool-pensions")
    copy = layout.node_dir(pensions) / "state-pension-details.toml"
    for node in DEMO_NODES:
        files = load_node_settings(layout.node_config(node)).service_files
        assert files == [(layout.node_dir(node) / name).resolve() for name in node.service_files]
        if node.service is None:
            continue
        assert demo_service(node.id) == load_service_definition(files[0], node.id)

    # A folder made before services were files gets its copy and setting on the next run;
    # a copy the operator changed is kept.
    config = layout.node_config(pensions)
    config.write_text(config.read_text().split("\n[services]\n")[0])
    copy.write_text(copy.read_text().replace("State Pension", "pension"))
    prepare(layout, datetime.now(UTC), people=1, seed=1, journeys=FEW_JOURNEYS)
    files = load_node_settings(config).service_files
    journey = layout.node_dir(pensions) / str(pensions.journey)
    assert files == [copy.resolve(), journey.resolve()]
    assert load_service_definition(copy, pensions.id).title == "Check your pension details"
    prepare(layout, datetime.now(UTC), people=1, seed=1, journeys=FEW_JOURNEYS)
    assert config.read_text().count("[services]") == 1

    # A folder made before the node ran its service with pages gets that file added to the
    # list an earlier demo wrote.
    care = next(n for n in DEMO_NODES if n.id == "birmingham-social-care")
    config = layout.node_config(care)
    journey = layout.node_dir(care) / str(care.journey)
    journey.unlink()
    config.write_text(
        config.read_text().replace(
            f'files = ["{care.service}", "{care.journey}"]', f'files = ["{care.service}"]'
        )
    )
    assert load_node_settings(config).services.files == [Path(str(care.service))]
    prepare(layout, datetime.now(UTC), people=1, seed=1, journeys=FEW_JOURNEYS)
    assert journey.exists()
    assert load_node_settings(config).service_files[1] == journey.resolve()


def test_every_demo_node_sends_its_email_to_the_demos_mail_catcher(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    prepare(layout, datetime.now(UTC), people=0, seed=1, journeys=FEW_JOURNEYS)
    for node in DEMO_NODES:
        email = load_node_settings(layout.node_config(node)).email
        assert email is not None, node.id
        assert (email.smtp_host, email.smtp_port, email.starttls) == ("127.0.0.1", 18112, False)
        assert email.from_address == f"{node.id}@digitalstate-demo.test"
    assert layout.ports()[-2:] == [18111, 18112]

    # A folder made before the demo sent email gets [email] on the next run, once; an
    # operator's own [email] is kept.
    charter, prisons = DEMO_NODES[0], DEMO_NODES[8]
    config = layout.node_config(charter)
    config.write_text(config.read_text().split("\n[email]\n")[0])
    own = layout.node_config(prisons)
    own.write_text(own.read_text().replace("prisons@digitalstate-demo.test", "visits@example.org"))
    prepare(layout, datetime.now(UTC), people=0, seed=1, journeys=FEW_JOURNEYS)
    prepare(layout, datetime.now(UTC), people=0, seed=1, journeys=FEW_JOURNEYS)
    assert load_node_settings(config).email is not None
    assert config.read_text().count("[email]") == 1
    kept = load_node_settings(own).email
    assert kept is not None and kept.from_address == "visits@example.org"


def test_the_prisons_node_keeps_the_register_and_runs_the_visit_service(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    prepare(layout, datetime.now(UTC), people=0, seed=1, journeys=FEW_JOURNEYS)
    prisons = next(n for n in DEMO_NODES if n.prisons)
    config = layout.node_config(prisons)
    settings = load_node_settings(config)
    assert settings.prisons is not None
    assert [p.name for p in settings.service_files][-1] == "book-a-prison-visit.toml"
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            slots = connection.scalar(text("SELECT count(*) FROM visit_slots"))
            prisoner = connection.scalar(text("SELECT prison_number FROM prisoners ORDER BY id"))
    finally:
        engine.dispose()
    assert slots and prisoner == "A1234BC"  # the README's walk-through visits A1234BC

    # A folder made before the demo booked prison visits gets [prisons] on the next run, once.
    config.write_text(config.read_text().replace("\n[prisons]\n", "\n"))
    assert load_node_settings(config).prisons is None
    prepare(layout, datetime.now(UTC), people=0, seed=1, journeys=FEW_JOURNEYS)
    prepare(layout, datetime.now(UTC), people=0, seed=1, journeys=FEW_JOURNEYS)
    assert load_node_settings(config).prisons is not None
    assert config.read_text().count("[prisons]") == 1


def test_every_demo_node_carries_its_year_of_spending_and_journeys_once(tmp_path: Path) -> None:
    layout = DemoLayout(tmp_path / "demo", 18100)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    prepare(layout, now, people=0, seed=3, journeys=FEW_JOURNEYS)
    prepare(layout, now, people=0, seed=3, journeys=FEW_JOURNEYS)  # again: nothing added twice

    with_pages = []
    for node in DEMO_NODES:
        settings = load_node_settings(layout.node_config(node))
        engine = make_engine(settings.database_url)
        try:
            with make_sessions(engine).begin() as session:
                assert payments_count(session) == len(synthetic_payments(node.id)), node.id
                # The synthetic journeys' ids are the seed's, then the journey's number.
                started = session.scalar(
                    text(
                        "SELECT count(*) FROM service_events WHERE kind = 'started'"
                        " AND journey LIKE '00000003%' AND length(journey) = 32"
                    )
                )
                # The figures by month are kept already, as a started node would keep them:
                # every journey started (the experiments' too) counted once, in its month.
                every_start = session.scalar(
                    text("SELECT count(*) FROM service_events WHERE kind = 'started'")
                )
                kept = stored_months(session, months_of(year_start(now.date()), YEAR))
        finally:
            engine.dispose()
        pages = journey_services(read_definitions(list(settings.service_files)))
        assert started == (FEW_JOURNEYS if pages else 0), node.id
        assert sum(month.started for month in kept) == every_start, node.id
        assert len(kept) == YEAR * len({service.slug for service in pages}), node.id
        with_pages += [node.id] if pages else []
    assert with_pages, "some demo node runs a service with pages"
