"""The person's internal id never leaves the charter (DESIGN §3), across real node processes.

After the whole journey (sign in at pensions, consent, a change of address told to pensions,
withdrawal, a refused read), nothing any other node answered, stored, logged or was told
contains the internal id, in either of its spellings; and pensions and the People register
know the person by different pseudonyms.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import Browser
from consent_e2e_support import (
    CHARTER,
    PENSIONS,
    REGISTER,
    ConsentFederation,
    person,
    set_up_federation,
    whole_journey,
)
from e2e_support import processes
from sqlalchemy import select

from digitalstate.consent.models import HeldConsent
from digitalstate.registers.models import RegisterRecord
from digitalstate.services.models import ServiceConsent
from digitalstate.settings import load_node_settings
from digitalstate.tellusonce.models import ReceivedNotice

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def journey(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ConsentFederation, Browser, str, list[bytes]]]:
    """After one person's whole journey: federation, browser, consent id, answers received."""
    root = tmp_path_factory.mktemp("pseudonyms")
    with processes(root / "logs") as procs:
        federation = set_up_federation(root, procs)
        browser = Browser()
        try:
            consent_id, refused = whole_journey(browser, federation, person(2), "LS2 7HY")
            answers = [refused.body, *(f"{k}: {v}".encode() for k, v in refused.headers.items())]
            yield federation, browser, consent_id, answers
        finally:
            browser.close()
            federation.close()


def spellings(person_id: str) -> list[bytes]:
    """The internal id as text, and as hex without dashes."""
    return [person_id.encode(), person_id.replace("-", "").encode()]


def contains_id(value: bytes, person_id: str) -> bool:
    """True when value holds the internal id, in any case."""
    lowered = value.lower()
    return any(spelling in lowered for spelling in spellings(person_id))


def sqlite_values(database: Path) -> Iterator[tuple[str, str, bytes]]:
    """Every value of every column of every table: (table, column, value as bytes)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    yield table, column, raw
    finally:
        connection.close()


def test_no_stored_row_of_another_node_holds_the_internal_id(
    journey: tuple[ConsentFederation, Browser, str, list[bytes]],
) -> None:
    federation, _, _, _ = journey
    person_id = person(2).person_id
    databases = [
        load_node_settings(federation.config(m)).data_dir / "node.db" for m in (REGISTER, PENSIONS)
    ]
    databases.append(federation.root / "anchor" / "anchor.db")
    looked_at = 0
    for database in databases:
        for table, column, value in sqlite_values(database):
            looked_at += 1
            assert not contains_id(value, person_id), f"{database.parent.name} {table}.{column}"
    assert looked_at > 100  # the journey left plenty to look at
    # ... while the charter, which keeps people under that id, does hold it.
    charter_db = load_node_settings(federation.config(CHARTER)).data_dir / "node.db"
    assert any(contains_id(v, person_id) for _, _, v in sqlite_values(charter_db))


def test_no_answer_of_another_node_holds_the_internal_id(
    journey: tuple[ConsentFederation, Browser, str, list[bytes]],
) -> None:
    federation, browser, _, answers = journey
    person_id = person(2).person_id
    charter = federation.urls[CHARTER]
    others = [seen for seen in browser.seen if not seen.url.startswith(charter + "/")]
    assert {s.url.split("/")[2] for s in others} == {
        federation.urls[m].split("/")[2] for m in (REGISTER, PENSIONS)
    }
    for seen in others:
        assert not contains_id(seen.body, person_id), seen.url
        for name, value in seen.headers:
            assert not contains_id(f"{name}: {value}".encode(), person_id), (seen.url, name)
    for answer in answers:  # the register's signed refusal the test received as pensions
        assert not contains_id(answer, person_id)


def test_the_notice_pensions_received_names_no_person(
    journey: tuple[ConsentFederation, Browser, str, list[bytes]],
) -> None:
    federation, _, consent_id, _ = journey
    person_id = person(2).person_id
    with federation.sessions(PENSIONS).begin() as session:
        notices = list(session.scalars(select(ReceivedNotice)))
    assert [n.consent_id for n in notices] == [consent_id]
    for notice in notices:
        for value in (notice.idempotency_key, notice.holder, notice.fields, str(notice.version)):
            assert not contains_id(value.encode(), person_id)


def test_no_log_line_of_another_node_holds_the_internal_id(
    journey: tuple[ConsentFederation, Browser, str, list[bytes]],
) -> None:
    federation, _, _, _ = journey
    person_id = person(2).person_id
    logs = [c.log_path for c in federation.procs.children if c.name != CHARTER]
    assert len(logs) == 3  # the anchor, the register and pensions
    for log in logs:
        assert not contains_id(log.read_bytes(), person_id), log.name


def test_pensions_and_the_register_know_the_person_by_different_pseudonyms(
    journey: tuple[ConsentFederation, Browser, str, list[bytes]],
) -> None:
    federation, _, consent_id, _ = journey
    with federation.sessions(PENSIONS).begin() as session:
        consent = session.get(ServiceConsent, consent_id)
        assert consent is not None
        at_pensions = consent.subject
    with federation.sessions(REGISTER).begin() as session:
        held = session.get(HeldConsent, consent_id)
        assert held is not None
        at_register = held.holder_pseudonym
        assert session.get(RegisterRecord, at_register) is not None
        assert session.get(RegisterRecord, at_pensions) is None
    assert at_pensions != at_register
    assert len(at_pensions) == len(at_register) == 32
    person_id = person(2).person_id
    assert person_id not in (at_pensions, at_register)
