"""The processes of `digitalstate bench log` besides the sequencer: the appender and the watcher.

    python -m digitalstate.benchmarks.log_worker append URL ENTRIES PEOPLE BATCH SECRET_HEX
    python -m digitalstate.benchmarks.log_worker watch URL ENTRIES

The appender makes log entries as a holder does (each about a person drawn at random from
PEOPLE, with a fresh random salt; EntryMaker gives the bytes LogEntry.encode gives, faster),
inserts them BATCH at a time with the statement `append_entries` runs, one transaction per
batch, and notes when each batch was acknowledged (its commit returned) and the id of its last
entry. The watcher reads the newest checkpoint through `latest_checkpoint`, as the public
checkpoint route does, every POLL_SECONDS, and notes when each new size first became readable.
Both report progress on standard error ("progress N") and print one JSON object on standard
output when done. Times are time.monotonic(), which every process on the machine shares.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, event, func, insert, select, text

from digitalstate.storage.engine import make_engine
from digitalstate.transparency.entries import LogEntry, make_entry
from digitalstate.transparency.models import LogEntryRow
from digitalstate.transparency.store import latest_checkpoint

HOLDER = "bench-holder"
REQUESTER = "bench-requester"
PURPOSE = "pension-administration"
FIELDS = ("people.address", "people.date_of_birth")
POLL_SECONDS = 0.002
PROGRESS_SECONDS = 0.5
SQLITE_CACHE_KIB = 256 * 1024
WATCH_TIMEOUT_SECONDS = 6 * 3600
_INSERT_ENTRY = insert(cast("Table", LogEntryRow.__table__))


def bench_engine(url: str) -> Engine:
    """The node's engine (make_engine: WAL, synchronous=FULL) with a larger SQLite page cache.

    The cache is the one setting added: at ten million entries the indexes are hundreds of
    megabytes, and SQLite's default 2 MiB cache re-reads their pages for every batch.
    """
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        event.listen(engine, "connect", on_connect)
    return engine


def written_bytes() -> int | None:
    """Bytes this process has had written to storage (Linux /proc/self/io), if known."""
    try:
        with open("/proc/self/io") as io:
            for line in io:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def person(secret: bytes, n: int) -> str:
    """The holder's pseudonym for bench person n: 32 characters, as random as a real one.

    Hex of a keyed BLAKE2b rather than identity.pseudonyms' base32 HMAC, which costs the
    appender a third of its time; the log stores and indexes either the same way.
    """
    return hashlib.blake2b(n.to_bytes(8, "big"), key=secret, digest_size=16).hexdigest()


class EntryMaker:
    """Makes entries' canonical bytes from a template: what LogEntry.encode gives, 5x faster.

    The template is an entry made by make_entry and encoded by LogEntry.encode, cut around its
    time, pseudonym and salt; each new entry gets the batch's time, a person drawn at random
    and 16 fresh random bytes of salt. The first entry made is decoded and encoded again to
    check that it is exactly canonical.
    """

    _AT = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    _MARKS = {"pseudonym": "@pseudonym@", "salt": "@salt@"}

    def __init__(self, secret: bytes, people: int, rng: random.Random) -> None:
        self.secret, self.people, self.rng = secret, people, rng
        sample = replace(
            make_entry(
                holder=HOLDER,
                pseudonym=self._MARKS["pseudonym"],
                requester=REQUESTER,
                action="read",
                outcome="allowed",
                now=self._AT,
                purpose=PURPOSE,
                consent_id="5f0c8a52-6a4e-4b8e-9d1e-0c3f6c1d2b7a",
                fields=FIELDS,
            ),
            salt=self._MARKS["salt"],
        )
        at = sample.to_json()["at"]
        text = sample.encode()
        marks = sorted(
            (text.index(mark.encode()), name, mark.encode())
            for name, mark in {**self._MARKS, "at": at}.items()
        )
        self.order = [name for _, name, _ in marks]
        self.parts: list[bytes] = []
        rest = text
        for _, _, mark in marks:
            before, rest = rest.split(mark, 1)
            self.parts.append(before)
        self.parts.append(rest)
        self.checked = False

    def batch(self, count: int) -> list[dict[str, Any]]:
        """count rows for log_entries: the pseudonym and the entry's canonical bytes."""
        at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z").encode()
        salt = os.urandom(16 * count)
        p0, p1, p2, p3 = self.parts
        rows: list[dict[str, Any]] = []
        for n in range(count):
            who = person(self.secret, self.rng.randrange(self.people))
            values = {
                "at": at,
                "pseudonym": who.encode(),
                "salt": base64.b64encode(salt[16 * n : 16 * n + 16]),
            }
            a, b, c = (values[name] for name in self.order)
            rows.append({"pseudonym": who, "body": p0 + a + p1 + b + p2 + c + p3})
        if not self.checked and rows:
            body = rows[0]["body"]
            if LogEntry.decode(body).encode() != body:
                raise RuntimeError("the entry template does not give canonical entries")
            self.checked = True
        return rows


def append(url: str, entries: int, people: int, batch: int, secret: bytes) -> dict[str, Any]:
    """Append entries in batches; return when each batch was acknowledged and its last id."""
    engine = bench_engine(url)
    maker = EntryMaker(secret, people, random.Random())  # noqa: S311 - people, not secrets
    last_id = select(func.max(LogEntryRow.id))
    acks: list[tuple[float, int]] = []
    began = time.monotonic()
    reported = began
    done = 0
    try:
        while done < entries:
            made = maker.batch(min(batch, entries - done))
            with engine.begin() as db:
                db.execute(_INSERT_ENTRY, made)  # the statement append_entries runs
                last = int(db.execute(last_id).scalar_one())
            acks.append((time.monotonic(), last))
            done += len(made)
            if acks[-1][0] - reported >= PROGRESS_SECONDS:
                reported = acks[-1][0]
                print(f"progress {done}", file=sys.stderr, flush=True)
    finally:
        engine.dispose()
    print(f"progress {done}", file=sys.stderr, flush=True)
    return {"appended": done, "began": began, "seconds": time.monotonic() - began, "acks": acks}


def watch(url: str, entries: int) -> dict[str, Any]:
    """Poll the newest checkpoint until it covers entries; return when each size was first seen."""
    engine = bench_engine(url)
    seen: list[tuple[int, float]] = []
    size = -1
    deadline = time.monotonic() + WATCH_TIMEOUT_SECONDS
    try:
        while size < entries and time.monotonic() < deadline:
            with engine.connect() as db:
                found = latest_checkpoint(db)
            at = time.monotonic()
            if found is not None and found.size > size:
                size = found.size
                seen.append((size, at))
            time.sleep(POLL_SECONDS)
    finally:
        engine.dispose()
    return {"seen": seen}


def ready(url: str) -> None:
    """Fail early, naming the database, when it cannot be opened."""
    engine = bench_engine(url)
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    """Run one role; its JSON report goes to standard output."""
    role, url = argv[0], argv[1]
    ready(url)
    if role == "append":
        entries, people, batch = int(argv[2]), int(argv[3]), int(argv[4])
        report = append(url, entries, people, batch, bytes.fromhex(argv[5]))
    elif role == "watch":
        report = watch(url, int(argv[2]))
    else:
        print(f"unknown role {role!r}: append or watch", file=sys.stderr)
        return 2
    report["written_bytes"] = written_bytes()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
