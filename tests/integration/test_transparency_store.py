"""The log in the database, on SQLite and PostgreSQL: appending, integrating, proofs, crashes.

Every proof the store gives is checked with the pure verifier (merkle.py) against a signed
checkpoint the store published, and every tree against one rebuilt from the stored entries'
bytes. Crashes are made two ways: a store function raising after part of a batch was written
(the transaction then rolls back), and an SQLite sequencer process killed with SIGKILL inside
a batch's open write transaction.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from log_tamper import delete_entry
from sqlalchemy import Engine, func, select

from digitalstate.keys import KeyPair
from digitalstate.storage.engine import make_engine
from digitalstate.storage.migrate import upgrade
from digitalstate.transparency import store
from digitalstate.transparency.entries import LogEntry, log_origin, make_entry
from digitalstate.transparency.leaves import MAX_LEAVES_PER_PAGE, leaf_hashes
from digitalstate.transparency.merkle import (
    ProofError,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from digitalstate.transparency.models import LogCheckpoint, LogEntryRow, LogNode
from digitalstate.transparency.note import verify_log_signature
from digitalstate.transparency.sequencer import Sequencer
from digitalstate.transparency.store import (
    LogDamagedError,
    append_entries,
    checkpoint_at,
    consistency_proof,
    entries_for,
    inclusion_proof,
    latest_checkpoint,
    pending_count,
    read_head,
    record_access,
    root_at,
)

KEY = KeyPair.from_seed(bytes(range(7, 39)))
ORIGIN = log_origin("Store test federation", "people-register")
NOW = datetime(2026, 3, 1, 10, 42, tzinfo=UTC)
PEOPLE = ["k5xq3o7zq2m4jv6wp7a2e3fyd4hbkx2c", "a2b3c4d5e6f7g2h3i4j5k6l7m2n3o4p5", "zzzz"]


def append(engine: Engine, count: int, *, start: int = 0) -> list[bytes]:
    """count entries, each in its own committed transaction (as each read records its own)."""
    bodies = []
    for n in range(start, start + count):
        with engine.begin() as db:
            made = record_access(
                db,
                holder="people-register",
                pseudonym=PEOPLE[n % len(PEOPLE)],
                requester="liverpool-pensions",
                action="read",
                outcome="allowed",
                now=NOW + timedelta(seconds=n),
                purpose="pension-administration",
                fields=["people.address"],
                reason=f"entry {n}",
            )
        bodies.append(made.encode())
    return bodies


def bulk(count: int, start: int = 0) -> list[LogEntry]:
    return [
        make_entry(
            holder="people-register",
            pseudonym=PEOPLE[n % len(PEOPLE)],
            requester="newcastle-tax",
            action="notified",
            outcome="sent",
            now=NOW,
            reason=f"bulk {n}",
        )
        for n in range(start, start + count)
    ]


def stored_by_leaf(engine: Engine) -> list[bytes]:
    """Every integrated entry's bytes in leaf order; fails on a gap or a repeated index."""
    with engine.connect() as db:
        rows = db.execute(
            select(LogEntryRow.leaf_index, LogEntryRow.body)
            .where(LogEntryRow.leaf_index.is_not(None))
            .order_by(LogEntryRow.leaf_index)
        ).all()
    assert [int(index) for index, _ in rows] == list(range(len(rows))), "leaf indexes have gaps"
    return [bytes(body) for _, body in rows]


def assert_whole(engine: Engine, appended: list[bytes]) -> None:
    """The log holds every appended entry exactly once, integrated, and its tree verifies."""
    leaves = stored_by_leaf(engine)
    assert sorted(leaves) == sorted(appended)
    with engine.connect() as db:
        assert pending_count(db) == 0
        head = read_head(db)
        assert head is not None and head.size == len(appended)
        assert head.root == tree_root([leaf_hash(body) for body in leaves])
        published = latest_checkpoint(db)
        assert published is not None and published.size == head.size
        assert verify_log_signature(published.note, ORIGIN, [KEY.public]).root == head.root
        assert leaf_hashes(db, 0, head.size) == [leaf_hash(body) for body in leaves]
        for index in {0, head.size // 3, head.size - 1}:
            proof = inclusion_proof(db, index, head.size)
            verify_inclusion(leaf_hash(leaves[index]), index, head.size, proof, head.root)
        sizes = list(db.execute(select(LogCheckpoint.size).order_by(LogCheckpoint.size)).scalars())
        roots = {int(s): root_at(db, int(s)) for s in sizes}
        for size, root in roots.items():
            checkpoint = checkpoint_at(db, size)
            assert checkpoint is not None and checkpoint.root == root
            verify_consistency(
                size, head.size, consistency_proof(db, size, head.size), root, head.root
            )
        nodes = db.execute(select(func.count()).select_from(LogNode)).scalar_one()
        assert nodes == head.size - bin(head.size).count("1")  # complete interior nodes, once


def sequencer(engine: Engine, batch_size: int = 1000) -> Sequencer:
    return Sequencer(engine, ORIGIN, KEY, batch_size=batch_size)


# Appending and integrating --------------------------------------------------------------------


def test_appended_entries_are_integrated_in_batches_and_each_batch_is_signed(
    engine: Engine,
) -> None:
    appended = append(engine, 25)
    with engine.connect() as db:
        assert pending_count(db) == 25
        assert latest_checkpoint(db) is None
    running = sequencer(engine, batch_size=7)
    sizes = []
    while (done := running.step()) is not None:
        sizes.append((done.count, done.head.size))
        assert verify_log_signature(done.note, ORIGIN, [KEY.public]).size == done.head.size
    assert sizes == [(7, 7), (7, 14), (7, 21), (4, 25)]
    with engine.connect() as db:
        for _, size in sizes:
            published = checkpoint_at(db, size)
            assert published is not None
            checkpoint = verify_log_signature(published.note, ORIGIN, [KEY.public])
            assert checkpoint.root == root_at(db, size) == published.root
    assert_whole(engine, appended)
    # Entries are integrated in the order they were appended.
    assert stored_by_leaf(engine) == appended


def test_drain_integrates_everything_pending_and_an_empty_log_gets_a_checkpoint(
    engine: Engine,
) -> None:
    assert sequencer(engine).drain() == 0
    with engine.connect() as db:
        empty = latest_checkpoint(db)
        assert empty is not None and empty.size == 0
        assert verify_log_signature(empty.note, ORIGIN, [KEY.public]).size == 0
    assert sequencer(engine).step() is None  # nothing new: no new checkpoint
    with engine.begin() as db:
        append_entries(db, bulk(2500))
    assert sequencer(engine, batch_size=1000).drain() == 2500
    with engine.begin() as db:
        append_entries(db, bulk(3, start=2500))
    assert sequencer(engine, batch_size=1000).drain() == 3
    with engine.connect() as db:
        sizes = list(db.execute(select(LogCheckpoint.size).order_by(LogCheckpoint.size)).scalars())
    assert sizes == [0, 1000, 2000, 2500, 2503]


def test_an_entry_is_appended_with_its_callers_transaction_or_not_at_all(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as db:
        record_access(
            db,
            holder="people-register",
            pseudonym=PEOPLE[0],
            requester="liverpool-pensions",
            action="refused",
            outcome="no-consent",
            now=NOW,
        )
        raise RuntimeError("the action failed")
    with engine.connect() as db:
        assert pending_count(db) == 0


def test_every_proof_the_store_gives_verifies_against_its_checkpoints(engine: Engine) -> None:
    with engine.begin() as db:
        append_entries(db, bulk(37))
    running = sequencer(engine, batch_size=5)
    running.drain()
    leaves = [leaf_hash(body) for body in stored_by_leaf(engine)]
    with engine.connect() as db:
        assert leaf_hashes(db, 0, 37) == leaves
        assert leaf_hashes(db, 10, 10) == []
        sizes = [5, 10, 15, 20, 25, 30, 35, 37]
        roots = {}
        for size in sizes:
            published = checkpoint_at(db, size)
            assert published is not None
            roots[size] = verify_log_signature(published.note, ORIGIN, [KEY.public]).root
            assert roots[size] == tree_root(leaves[:size]) == root_at(db, size)
            for index in range(size):
                proof = inclusion_proof(db, index, size)
                verify_inclusion(leaves[index], index, size, proof, roots[size])
        for old in sizes:
            for new in sizes:
                if old <= new:
                    proof = consistency_proof(db, old, new)
                    verify_consistency(old, new, proof, roots[old], roots[new])
        # Sizes without a checkpoint are proved too: any size up to the head.
        for old, new in ((1, 2), (3, 36), (17, 37), (0, 9)):
            verify_consistency(
                old,
                new,
                consistency_proof(db, old, new),
                tree_root(leaves[:old]),
                tree_root(leaves[:new]),
            )


def test_out_of_range_requests_are_proof_errors(engine: Engine) -> None:
    with engine.begin() as db:
        append_entries(db, bulk(10))
    sequencer(engine).drain()
    with engine.connect() as db:
        for index, size in ((10, 10), (0, 11), (-1, 5), (3, 0)):
            with pytest.raises(ProofError):
                inclusion_proof(db, index, size)
        for old, new in ((5, 4), (3, 11), (-1, 5)):
            with pytest.raises(ProofError):
                consistency_proof(db, old, new)
        with pytest.raises(ProofError):
            root_at(db, 11)
        for start, end in ((0, 11), (5, 4), (-1, 3)):
            with pytest.raises(ProofError):
                leaf_hashes(db, start, end)
        with pytest.raises(ProofError):
            leaf_hashes(db, 0, MAX_LEAVES_PER_PAGE + 1)


def test_a_person_sees_their_entries_newest_first_pending_ones_without_an_index(
    engine: Engine,
) -> None:
    appended = append(engine, 9)
    sequencer(engine).drain()
    appended += append(engine, 3, start=9)  # not yet integrated
    with engine.connect() as db:
        mine = entries_for(db, PEOPLE[0])
        assert entries_for(db, "nobody") == []
    expected = [body for n, body in enumerate(appended) if n % len(PEOPLE) == 0]
    assert [e.body for e in mine] == list(reversed(expected))
    assert [e.leaf_index for e in mine] == [None, 6, 3, 0]


def test_a_deleted_entry_makes_its_proofs_fail_as_damage(engine: Engine) -> None:
    with engine.begin() as db:
        append_entries(db, bulk(8))
    sequencer(engine).drain()
    delete_entry(engine, 5)
    with engine.connect() as db:
        with pytest.raises(LogDamagedError):
            inclusion_proof(db, 4, 8)  # leaf 5 is leaf 4's sibling
        with pytest.raises(LogDamagedError):
            consistency_proof(db, 5, 8)  # proves leaves 4 and 5 on their own
        inclusion_proof(db, 5, 8)  # its own proof needs only the others
        with pytest.raises(LogDamagedError):
            leaf_hashes(db, 0, 8)
        inclusion_proof(db, 1, 8)  # the other half of the tree is still whole


# Crashes --------------------------------------------------------------------------------------


class CrashError(Exception):
    """The injected failure."""


def failing_after(original: Callable[..., Any], calls: int) -> Callable[..., Any]:
    """original, which raises CrashError once, after doing its work, on its calls-th call."""
    seen = {"calls": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        seen["calls"] += 1
        if seen["calls"] == calls:
            raise CrashError(f"crashed after {original.__name__}")
        return result

    return wrapper


@pytest.mark.parametrize("where", ["_number", "_insert_nodes", "_publish"])
def test_a_failure_inside_a_batch_leaves_the_log_whole_and_nothing_is_lost(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    append(engine, 10)
    with engine.begin() as db:
        append_entries(db, bulk(30, start=10))
    with engine.connect() as db:
        bodies = [bytes(b) for b in db.execute(select(LogEntryRow.body)).scalars()]
    running = sequencer(engine, batch_size=8)
    running.step()  # one whole batch first, so that the crash is past the start
    if where == "_publish":
        target = store.Integrator
        monkeypatch.setattr(target, "_publish", failing_after(target._publish, 1))
    else:
        monkeypatch.setattr(store, where, failing_after(getattr(store, where), 1))
    with pytest.raises(CrashError):
        running.step()
    monkeypatch.undo()
    with engine.connect() as db:
        head = read_head(db)
        assert head is not None and head.size == 8  # the failed batch left nothing
        assert pending_count(db) == 32
        assert db.execute(select(func.count()).select_from(LogNode)).scalar_one() == 7
    # The same sequencer carries on (its cached border was dropped), and so would a new one.
    assert running.drain() == 32
    assert_whole(engine, bodies)


def test_a_sequencer_killed_mid_batch_leaves_the_log_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    engine = make_engine(url)
    upgrade(engine)
    append(engine, 20)
    with engine.begin() as db:
        append_entries(db, bulk(2000, start=20))
    with engine.connect() as db:
        appended = [bytes(b) for b in db.execute(select(LogEntryRow.body)).scalars()]
    marker = tmp_path / "inside-the-batch"
    errors = tmp_path / "sequencer.err"
    command = [sys.executable, "-c", KILLED_SEQUENCER, url, KEY.seed().hex(), ORIGIN, str(marker)]
    with errors.open("w") as stderr, subprocess.Popen(command, stderr=stderr) as child:
        try:
            deadline = time.monotonic() + 60
            while not marker.exists():
                assert child.poll() is None, errors.read_text()
                assert time.monotonic() < deadline, "the sequencer never reached its third batch"
                time.sleep(0.01)
            # The child holds the write lock, its third batch numbered and its nodes written.
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with engine.connect() as db:
        head = read_head(db)
        assert head is not None and head.size == 2 * 300  # two whole batches, not the third
        assert pending_count(db) == 2020 - 600
    assert sequencer(engine, batch_size=300).drain() == 2020 - 600
    assert_whole(engine, appended)
    engine.dispose()


KILLED_SEQUENCER = """
import sys, time
from pathlib import Path
from digitalstate.keys import KeyPair
from digitalstate.storage.engine import make_engine
from digitalstate.storage.migrate import upgrade
from digitalstate.transparency import store
from digitalstate.transparency.sequencer import Sequencer

url, seed, origin, marker = sys.argv[1:5]
original = store._insert_nodes
calls = {"n": 0}

def stall(db, made):
    original(db, made)
    calls["n"] += 1
    if calls["n"] == 3:
        Path(marker).write_text("inside")
        time.sleep(600)

store._insert_nodes = stall
Sequencer(make_engine(url), origin, KeyPair.from_seed(bytes.fromhex(seed)), batch_size=300).drain()
"""


def test_two_sequencers_at_once_on_postgresql_never_corrupt_the_tree(
    engine: Engine, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one sequencer per node: the head row lock is PostgreSQL's")
    stop = threading.Event()
    appended: list[bytes] = []
    errors: list[BaseException] = []

    def appender() -> None:
        try:
            for round_ in range(40):
                made = bulk(25, start=round_ * 25)
                with engine.begin() as db:
                    append_entries(db, made)
                appended.extend(e.encode() for e in made)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    def integrate() -> None:
        running = sequencer(engine, batch_size=17)
        try:
            while not stop.is_set():
                running.step()
            running.drain()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    sequencer(engine).drain()  # the head row exists before the two race for it
    threads = [threading.Thread(target=integrate) for _ in range(2)]
    threads.append(threading.Thread(target=appender))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    sequencer(engine).drain()
    assert len(appended) == 1000
    assert_whole(engine, appended)


def test_a_second_sequencer_racing_on_sqlite_fails_its_batch_and_nothing_is_lost(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL the head row lock makes the second wait (test above)")
    with engine.begin() as db:
        append_entries(db, bulk(30))
    with engine.connect() as db:
        bodies = [bytes(b) for b in db.execute(select(LogEntryRow.body)).scalars()]
    first, second = sequencer(engine, batch_size=10), sequencer(engine, batch_size=10)
    first.step()
    original = store._number

    def first_overtakes(db: Any, ids: Any, start: int) -> None:
        # The second has read the head and hashed its batch; the first commits the same one.
        monkeypatch.setattr(store, "_number", original)
        first.step()
        original(db, ids, start)

    monkeypatch.setattr(store, "_number", first_overtakes)
    with pytest.raises(store.IntegrationConflictError):
        second.step()
    with engine.connect() as db:
        head = read_head(db)
        assert head is not None and head.size == 20
    assert second.drain() == 10
    assert_whole(engine, bodies)
