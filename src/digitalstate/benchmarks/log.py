"""`digitalstate bench log`: appends durably integrated per second, proofs and checkpoint delay.

Three processes share one database (an SQLite file in a temporary directory, or a fresh schema
of --database-url), as a node's request handlers, its sequencer and the public share it:

- the appender (log_worker.py) makes entries and appends them in batches, one transaction
  each, as fast as it can, noting when each batch was acknowledged;
- this process runs the node's Sequencer over the same database with the node's settings
  (batch size, longest wait), noting when each batch's transaction began to commit: that is
  when the batch was integrated, its checkpoint signed in the same transaction;
- the watcher (log_worker.py) reads the newest checkpoint through latest_checkpoint every
  2 ms, noting when each size first became readable.

appends_per_s is the entries integrated (leaf index, tree nodes, head and a signed checkpoint
committed) over the wall time from the appender's start to the last batch's commit.
checkpoint_delay_s is, per batch, from its integration commit to the watcher first reading a
checkpoint that covers it; append_to_checkpoint_s is, per appended batch, from its
acknowledgement to the first readable checkpoint covering its last entry. Then the database
is settled as a node finds it at rest (SQLite's WAL folded in; PostgreSQL vacuumed and
analysed), and inclusion_proof_ms is store.inclusion_proof at the final size for random
leaves, after WARM_UP_PROOFS unmeasured ones, each proof verified once against the signed
checkpoint outside the timing.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, event, select, text

from digitalstate.benchmarks.load import percentile
from digitalstate.benchmarks.log_worker import bench_engine, written_bytes
from digitalstate.benchmarks.schemas import fresh_database
from digitalstate.keys import KeyPair
from digitalstate.settings import LogSection
from digitalstate.storage.migrate import upgrade
from digitalstate.transparency.entries import log_origin
from digitalstate.transparency.leaves import leaf_hashes
from digitalstate.transparency.merkle import verify_inclusion
from digitalstate.transparency.models import LogEntryRow
from digitalstate.transparency.note import verify_log_signature
from digitalstate.transparency.sequencer import Sequencer
from digitalstate.transparency.store import (
    inclusion_proof,
    latest_checkpoint,
    pending_count,
)

Progress = Callable[[str, int, int], None]
PROOFS = 2000
WARM_UP_PROOFS = 200
ORIGIN = log_origin("bench", "bench-holder")
_DEFAULTS = LogSection()


@dataclass(frozen=True)
class Options:
    """What to run: how many entries, in which batches, about how many people, on which database."""

    entries: int
    batch_size: int = _DEFAULTS.batch_size
    append_batch: int = 1000
    people: int = 1_000_000
    max_wait_seconds: float = _DEFAULTS.max_wait_seconds
    proofs: int = PROOFS
    database_url: str | None = None


class _Worker:
    """A log_worker process: its progress lines relayed, its JSON report kept."""

    def __init__(self, role: str, *args: str, on_progress: Callable[[int], None]) -> None:
        command = [sys.executable, "-m", "digitalstate.benchmarks.log_worker", role, *args]
        self.role = role
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.errors: list[str] = []
        self.output = ""
        self._stderr = threading.Thread(
            target=self._read_stderr, args=(self.process.stderr, on_progress), daemon=True
        )
        self._stdout = threading.Thread(target=self._read_stdout, daemon=True)
        self._stderr.start()
        self._stdout.start()

    def _read_stderr(self, stream: IO[str] | None, on_progress: Callable[[int], None]) -> None:
        assert stream is not None
        for line in stream:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "progress":
                on_progress(int(parts[1]))
            elif line.strip():
                self.errors.append(line)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self.output = self.process.stdout.read()

    def running(self) -> bool:
        return self.process.poll() is None

    def report(self, timeout: float) -> dict[str, Any]:
        """Wait for the process; its JSON report, or RuntimeError with its last error lines."""
        code = self.process.wait(timeout=timeout)
        self._stdout.join(timeout=30)
        self._stderr.join(timeout=30)
        if code != 0 or not self.output.strip():
            detail = "".join(self.errors).strip()[-800:] or f"exit code {code}"
            raise RuntimeError(f"the log benchmark's {self.role} process failed: {detail}")
        report: dict[str, Any] = json.loads(self.output.strip().splitlines()[-1])
        return report

    def stop(self) -> None:
        if self.running():
            self.process.kill()
            self.process.wait(timeout=30)


@dataclass
class _Batch:
    """One integrated batch: the tree size after it and when its commit began and ended."""

    size: int
    committing: float
    committed: float


def _sequence(
    engine: Engine, key: KeyPair, options: Options, appender: _Worker, report: Progress
) -> list[_Batch]:
    """The node's sequencer loop (run_sequencer) until every entry is integrated."""
    sequencer = Sequencer(engine, ORIGIN, key, batch_size=options.batch_size)
    committing: list[float] = []

    def on_commit(_connection: Any) -> None:
        committing.append(time.monotonic())

    event.listen(engine, "commit", on_commit)
    batches: list[_Batch] = []
    integrated = 0
    try:
        while integrated < options.entries:
            finished = not appender.running()  # before the step: nothing comes after it
            committing.clear()
            done = sequencer.step()
            if done is not None and done.count:
                integrated = done.head.size
                batches.append(_Batch(done.head.size, committing[-1], time.monotonic()))
                report("integrate", integrated, options.entries)
            if done is None or done.count < options.batch_size:
                if finished:
                    if appender.process.returncode != 0:
                        appender.report(timeout=30)  # raises with the appender's error
                    if done is None:
                        raise RuntimeError(
                            f"only {integrated} of {options.entries} entries were integrated"
                        )
                time.sleep(options.max_wait_seconds)
    finally:
        event.remove(engine, "commit", on_commit)
    return batches


def _first_seen(seen: list[tuple[int, float]], size: int) -> float | None:
    """When the watcher first read a checkpoint of at least size."""
    sizes = [s for s, _ in seen]
    at = bisect.bisect_left(sizes, size)
    return seen[at][1] if at < len(seen) else None


def _leaf_indexes(engine: Engine, ids: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    with engine.connect() as db:
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            rows = db.execute(
                select(LogEntryRow.id, LogEntryRow.leaf_index).where(LogEntryRow.id.in_(chunk))
            )
            found.update({int(i): int(leaf) for i, leaf in rows if leaf is not None})
    return found


def _delays(
    engine: Engine,
    batches: list[_Batch],
    acks: list[tuple[float, int]],
    seen: list[tuple[int, float]],
) -> dict[str, Any]:
    integration = []
    for batch in batches:
        at = _first_seen(seen, batch.size)
        if at is not None:
            integration.append(max(0.0, at - batch.committing))
    leaf_of = _leaf_indexes(engine, [last for _, last in acks])
    published = []
    for acknowledged, last in acks:
        at = _first_seen(seen, leaf_of[last] + 1)
        if at is not None:
            published.append(max(0.0, at - acknowledged))
    integration.sort()
    published.sort()
    commits = sorted(b.committed - b.committing for b in batches)
    return {
        "checkpoint_delay_s": round(percentile(integration, 0.99), 4),
        "checkpoint_delay_p50_s": round(percentile(integration, 0.50), 4),
        "append_to_checkpoint_s": round(percentile(published, 0.99), 4),
        "append_to_checkpoint_p50_s": round(percentile(published, 0.50), 4),
        "commit_p99_s": round(percentile(commits, 0.99), 4),
        "batches": len(batches),
        "batches_seen": len(integration),
    }


def _proofs(
    engine: Engine, key: KeyPair, size: int, count: int, report: Progress
) -> dict[str, Any]:
    """Time inclusion_proof for random leaves at size; verify each proof outside the timing."""
    rng = random.Random()  # noqa: S311 - choosing leaves, not secrets
    timings: list[float] = []
    with engine.connect() as db:
        published = latest_checkpoint(db)
        if published is None or published.size != size:
            raise RuntimeError(f"no checkpoint of the final size {size} was published")
        root = verify_log_signature(published.note, ORIGIN, [key.public]).root
        for _ in range(WARM_UP_PROOFS):
            inclusion_proof(db, rng.randrange(size), size)
        for n in range(count):
            index = rng.randrange(size)
            began = time.perf_counter()
            proof = inclusion_proof(db, index, size)
            timings.append(time.perf_counter() - began)
            verify_inclusion(leaf_hashes(db, index, index + 1)[0], index, size, proof, root)
            if n % 100 == 99:
                report("proofs", n + 1, count)
    timings.sort()
    return {
        "inclusion_proof_ms": round(percentile(timings, 0.99) * 1000, 4),
        "inclusion_proof_p50_ms": round(percentile(timings, 0.50) * 1000, 4),
        "proofs_verified": count,
    }


def _settle(engine: Engine) -> None:
    """Leave the database as a node finds it at rest: WAL folded in, or vacuumed and analysed."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as db:
            db.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        for table in ("log_entries", "log_nodes", "log_checkpoints"):
            db.execute(text(f"VACUUM ANALYZE {table}"))


_SCHEMA_BYTES = text(
    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
)


def _database_bytes(engine: Engine) -> int:
    """The database's size on disk: the SQLite file and its WAL, or the schema's tables."""
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with engine.connect() as db:
        return int(db.execute(_SCHEMA_BYTES).scalar_one() or 0)


def run_log_bench(options: Options, on_progress: Progress | None = None) -> dict[str, Any]:
    """Fill a log of options.entries while integrating it; measure; return the figures."""
    report = on_progress or (lambda _stage, _done, _total: None)
    load_before = os.getloadavg()
    with fresh_database(options.database_url, "bench-log") as url:
        engine = bench_engine(url)
        try:
            upgrade(engine)
            secret = secrets.token_bytes(32)
            key = KeyPair.generate()
            watcher = _Worker("watch", url, str(options.entries), on_progress=lambda _n: None)
            began = time.monotonic()
            appender = _Worker(
                "append",
                url,
                str(options.entries),
                str(options.people),
                str(options.append_batch),
                secret.hex(),
                on_progress=lambda n: report("append", n, options.entries),
            )
            try:
                batches = _sequence(engine, key, options, appender, report)
                ended = batches[-1].committed
                appended = appender.report(timeout=600)
                watched = watcher.report(timeout=600)
            finally:
                appender.stop()
                watcher.stop()
            with engine.connect() as db:
                left = pending_count(db)
            if left:
                raise RuntimeError(f"{left} appended entries were never integrated")
            seconds = ended - began
            delays = _delays(engine, batches, appended["acks"], watched["seen"])
            _settle(engine)
            proofs = _proofs(engine, key, options.entries, options.proofs, report)
            size = _database_bytes(engine)
            written = [appended["written_bytes"], watched["written_bytes"], written_bytes()]
        finally:
            engine.dispose()
    load_after = os.getloadavg()
    return {
        "entries": options.entries,
        "appends_per_s": round(options.entries / seconds),
        "inclusion_proof_ms": proofs["inclusion_proof_ms"],
        "checkpoint_delay_s": delays["checkpoint_delay_s"],
        "append_to_checkpoint_s": delays["append_to_checkpoint_s"],
        "inclusion_proof_p50_ms": proofs["inclusion_proof_p50_ms"],
        "checkpoint_delay_p50_s": delays["checkpoint_delay_p50_s"],
        "append_to_checkpoint_p50_s": delays["append_to_checkpoint_p50_s"],
        "commit_p99_s": delays["commit_p99_s"],
        "appended_per_s": round(appended["appended"] / appended["seconds"]),
        "seconds": round(seconds, 1),
        "batches": delays["batches"],
        "batch_size": options.batch_size,
        "append_batch": options.append_batch,
        "people": options.people,
        "proofs_verified": proofs["proofs_verified"],
        "database": "postgresql" if options.database_url else "sqlite",
        "database_bytes": size,
        "written_bytes_per_entry": (
            round(sum(written) / options.entries)
            if options.database_url is None and None not in written
            else None
        ),
        "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
    }
