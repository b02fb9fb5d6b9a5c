"""Seed synthetic people into a federation's databases: the charter's accounts, every register.

Each person gets an account at the charter (internal id, email, the demo password) and a
record at every register that holds one of their fields, keyed by that register's pseudonym
for them, exactly as sign-in would name them. The charter also keeps each pseudonym it issued,
so that it can map a register's pseudonym back on a statutory-basis read. No register row
carries the internal id.

Rows are written in bulk (Core executemany), a chunk of people per transaction on each
database; a row already there is left alone, so an interrupted seeding can simply be run again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, event
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from digitalstate.demo.synthetic import SEEDED_AT, SyntheticPerson, make_person
from digitalstate.federation.domain import FieldDefinition
from digitalstate.identity.models import IssuedPseudonym, Person
from digitalstate.identity.pseudonyms import pseudonym
from digitalstate.identity.service import claim_invitations
from digitalstate.registers.models import RegisterRecord
from digitalstate.storage.engine import dialect_insert

DEMO_PASSWORD = "demo-password"  # noqa: S105 - published on purpose: every seeded person's
CHUNK = 10_000
BULK_CACHE_KIB = 256 * 1024
BULK_CHECKPOINT_PAGES = 65_536  # 256 MiB of WAL between checkpoints


@dataclass(frozen=True)
class SeedTargets:
    """Where seeded rows go: the charter's database and each register's, by member id."""

    charter: Engine
    registers: Mapping[str, Engine]


def register_fields(fields: Iterable[FieldDefinition]) -> dict[str, list[str]]:
    """The field names each register holds, by register member id, in catalogue order."""
    out: dict[str, list[str]] = {}
    for field in fields:
        out.setdefault(field.holder, []).append(field.name)
    return out


def seed_people(
    targets: SeedTargets,
    *,
    fields: Sequence[FieldDefinition],
    secret: bytes,
    seed: int,
    start: int,
    stop: int,
    password_hash: str,
    on_chunk: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> None:
    """Write people start..stop-1 of seed everywhere; on_chunk(done) after each chunk."""
    held = {
        member: names
        for member, names in register_fields(fields).items()
        if member in targets.registers
    }
    # Writing a chunk overlaps with making the next: SQLite and psycopg let go of the GIL
    # while they write, and making people is pure Python.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed") as writer:
        pending: Future[None] | None = None
        for first in range(start, stop, chunk):
            people = [make_person(seed, n) for n in range(first, min(first + chunk, stop))]
            writes = _chunk_writes(targets, held, people, secret, password_hash)
            if pending is not None:
                pending.result()
                if on_chunk is not None:
                    on_chunk(first)
            pending = writer.submit(_write_all, writes)
        if pending is not None:
            pending.result()
            if on_chunk is not None:
                on_chunk(stop)
    # A helper invited before their account was seeded can act from now on.
    with Session(targets.charter) as session, session.begin():
        claim_invitations(session)


Writes = list[tuple[Engine, list[tuple[Any, list[dict[str, Any]]]]]]


def _chunk_writes(
    targets: SeedTargets,
    held: Mapping[str, Sequence[str]],
    people: Sequence[SyntheticPerson],
    secret: bytes,
    password_hash: str,
) -> Writes:
    """Every row of a chunk of people, by database and table."""
    values = [p.field_values() for p in people]
    records = {
        member: register_rows(people, member, names, secret, values)
        for member, names in held.items()
    }
    issued = [
        {
            "member_id": member,
            "pseudonym": row["pseudonym"],
            "person_id": person.person_id,
            "issued_at": SEEDED_AT,
        }
        for member, rows in records.items()
        for person, row in zip(people, rows, strict=True)
    ]
    writes: Writes = [
        (targets.registers[member], [(RegisterRecord.__table__, rows)])
        for member, rows in records.items()
    ]
    charter = [
        (Person.__table__, person_rows(people, password_hash)),
        (IssuedPseudonym.__table__, issued),
    ]
    writes.append((targets.charter, charter))
    return writes


def _write_all(writes: Writes) -> None:
    for engine, tables in writes:
        with engine.begin() as connection:
            for table, rows in tables:
                if rows:
                    connection.execute(_insert_ignoring_existing(engine, table), rows)


def person_rows(people: Sequence[SyntheticPerson], password_hash: str) -> list[dict[str, Any]]:
    """The charter's accounts of people, all with the one demo password hash."""
    return [
        {
            "id": p.person_id,
            "email": p.email,
            "password_hash": password_hash,
            "display_name": p.display_name,
            "level_of_assurance": "low",
            "created_at": SEEDED_AT,
        }
        for p in people
    ]


def register_rows(
    people: Sequence[SyntheticPerson],
    member_id: str,
    names: Sequence[str],
    secret: bytes,
    values: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """A register's records of people: its pseudonym for each and the fields it holds.

    values, when given, are the people's field values, made once for every register.
    """
    rows = []
    for index, person in enumerate(people):
        held = values[index] if values is not None else person.field_values()
        rows.append(
            {
                "pseudonym": pseudonym(secret, member_id, person.person_id),
                "data": json.dumps(
                    {name: held[name] for name in names if name in held}, sort_keys=True
                ),
                "version": 1,
                "updated_at": SEEDED_AT,
            }
        )
    return rows


def tune_for_bulk_load(engine: Engine) -> None:
    """Make an SQLite engine's new connections write faster: for seeding, before any connects.

    synchronous=OFF is safe against the process being killed (the WAL is still written
    atomically); it only trusts the operating system not to crash meanwhile, which is fine for
    a demo that can be seeded again. A larger cache and later checkpoints write each page of
    the indexes fewer times.
    """
    if engine.dialect.name != "sqlite":
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        cursor.close()

    event.listen(engine, "connect", on_connect)


def _insert_ignoring_existing(engine: Engine, table: Table) -> Insert:
    # An interrupted seeding leaves a chunk half-written on some databases: the rerun writes
    # the chunk again and skips what is already there.
    statement: Insert = dialect_insert(engine.dialect.name)(table).on_conflict_do_nothing()
    return statement
