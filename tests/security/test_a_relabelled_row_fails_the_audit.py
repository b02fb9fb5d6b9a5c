"""An insider who relabels a row of the log raises the same alarm as one who rewrites the entry
(issue 8, finding C), on SQLite and PostgreSQL.

A node finds a person's entries by the `pseudonym` column of `log_entries`, which no leaf hash
covers. Setting that column of one row to another pseudonym hid the read from the person's
"who has seen your data", and no witness or auditor noticed. Now every leaf served to them is
checked against its row: a row filed under another pseudonym than its entry names makes the
public leaves route answer `log-damaged`, which the witness's rolling audit (and
`digitalstate log verify`, tests/e2e/test_log_verify_e2e.py) raise as a failed `audit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import log_tamper
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.problems import PROBLEM_BASE
from digitalstate.transparency.entries import LogEntry, log_origin
from digitalstate.transparency.leaves import leaf_hashes
from digitalstate.transparency.sequencer import Sequencer
from digitalstate.transparency.store import LogDamagedError, entries_for
from integration.registers_support import (
    NODE_ID,
    OTHER_PERSON,
    PERSON,
    RegisterNode,
    record_read,
    start_register,
)
from integration.witness_support import MEMBER, T0, open_alarms, witness, witnessed_log

LEAVES = "/.well-known/digitalstate/log/leaves"
ACCESS = "/exchange/v1/access-records"


def indexes(engine: Engine, pseudonym: str) -> list[int | None]:
    with engine.connect() as db:
        return [stored.leaf_index for stored in entries_for(db, pseudonym)]


def test_a_row_relabelled_away_from_its_person_is_hidden_from_them_and_the_witness_alarms(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    source = witnessed_log(engine, sessions)  # p0, p1, p2, p0, ...: leaf 7 is p1's
    assert 7 in indexes(engine, "p1")
    assert log_tamper.relabel_entry(engine, 7, "p0") == "p1"
    assert 7 not in indexes(engine, "p1")  # what the tamper does: p1 no longer finds it
    with engine.connect() as db, pytest.raises(LogDamagedError, match="at leaf 7 is filed"):
        leaf_hashes(db, 0, 20)

    found = witness(engine, sessions, source, T0 + timedelta(seconds=10))
    assert [f.kind for f in found.findings] == ["audit"]
    assert "leaf 7" in found.findings[0].detail
    assert open_alarms(sessions) == [(MEMBER, "audit")]


def test_a_row_put_back_under_its_person_audits_clean_again(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    witnessed_log(engine, sessions)
    log_tamper.relabel_entry(engine, 4, "p2")
    log_tamper.relabel_entry(engine, 4, "p1")  # leaf 4 is p1's
    with engine.connect() as db:
        assert len(leaf_hashes(db, 0, 20)) == 20


@pytest.fixture
def node(tmp_path: Path, migrated_database_url: str) -> Iterator[RegisterNode]:
    yield from start_register(tmp_path / "people-register", migrated_database_url)


def test_a_row_relabelled_to_another_person_is_not_served_to_them_and_the_route_says_which_leaf(
    node: RegisterNode,
) -> None:
    engine = node.runtime.engine
    with engine.begin() as db:
        for pseudonym in (PERSON, PERSON, OTHER_PERSON):
            record_read(db, pseudonym, now=T0)
    key = node.runtime.key
    origin = log_origin(node.document.federation, NODE_ID)
    Sequencer(engine, origin, key).drain()
    assert node.http.request("GET", LEAVES, params={"start": 0, "end": 3}).status_code == 200

    log_tamper.relabel_entry(engine, 1, OTHER_PERSON)  # PERSON's read, filed as OTHER_PERSON's

    # The other person is not shown it: the node reads the entry before it sends it.
    answer = node.call(ACCESS, {"subject": OTHER_PERSON}, caller="charter", purpose=None).json()
    about = [LogEntry.decode(item["entry"].encode()).pseudonym for item in answer["entries"]]
    assert about == [OTHER_PERSON]
    # The person no longer finds it; the public route that witnesses audit refuses the range.
    response = node.http.request("GET", LEAVES, params={"start": 0, "end": 3})
    assert response.status_code == 500, response.text
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE + "log-damaged"
    assert "leaf 1 is filed under another pseudonym" in problem["detail"]
    assert PERSON not in response.text and OTHER_PERSON not in response.text
    assert node.http.request("GET", LEAVES, params={"start": 2, "end": 3}).status_code == 200
