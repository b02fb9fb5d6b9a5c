"""Fill a register's database for `bench consent`: N records, N held consents, one fan-out person.

Rows are written with SQLAlchemy Core executemany, a chunk per transaction, while the next
chunk is made (as `digitalstate seed` does). Person n's consent id and pseudonym are worked
out from n, so the calling node's load process picks random people without a list of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from digitalstate.consent.models import HeldConsent
from digitalstate.demo.seed import tune_for_bulk_load
from digitalstate.identity.pseudonyms import pseudonym
from digitalstate.registers.models import RegisterRecord

HOLDER = "people-register"
REQUESTER = "bench-client"
PURPOSE = "electoral-registration"
FIELDS = ("people.address", "people.date_of_birth")
FANOUT_PERSON = "bench-fanout"
CHUNK = 10_000
_FIELDS_JSON = json.dumps(list(FIELDS))


def consent_id(prefix: int, n: int) -> str:
    """The id of person n's consent in a run whose ids start with prefix (64 bits)."""
    return str(uuid.UUID(int=(prefix << 64) | n))


def person_pseudonym(secret: bytes, n: int) -> str:
    """The register's pseudonym for person n."""
    return pseudonym(secret, HOLDER, f"bench-person-{n}")


@dataclass(frozen=True)
class Fill:
    """What was written: the run's consent id prefix and the fan-out person's pseudonym."""

    prefix: int
    fanout_pseudonym: str
    fanout_consents: int


def _record(pseudonym_: str, n: int, now: datetime) -> dict[str, Any]:
    data = {
        "people.given_names": "Alex",
        "people.family_name": f"Bench{n}",
        "people.date_of_birth": f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}",
        "people.address": {
            "lines": [f"{1 + n % 300} High Street"],
            "town": "Leeds",
            "postcode": "LS1 4AP",
        },
    }
    return {
        "pseudonym": pseudonym_,
        "data": json.dumps(data, sort_keys=True),
        "version": 1,
        "updated_at": now,
    }


def _consent(id_: str, requester: str, pseudonym_: str, now: datetime) -> dict[str, Any]:
    return {
        "id": id_,
        "requester": requester,
        "holder_pseudonym": pseudonym_,
        "fields": _FIELDS_JSON,
        "purpose": PURPOSE,
        "granted_at": now - timedelta(days=1),
        "expires_at": now + timedelta(days=365),
        "notify": True,
        "status": "active",
        "withdrawn_at": None,
        # A stand-in for the charter's signed envelope: never read on the read path.
        "record": json.dumps({"bench": True, "consent_id": id_, "requester": requester}),
    }


def _write(engine: Engine, records: list[dict[str, Any]], consents: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        connection.execute(insert(RegisterRecord), records)
        connection.execute(insert(HeldConsent), consents)


def fill_holder(
    database_url: str,
    *,
    people: int,
    secret: bytes,
    subscribers: list[str],
    now: datetime,
    on_chunk: Callable[[int], None] | None = None,
) -> Fill:
    """Write people records and consents for REQUESTER, and the fan-out person's consents."""
    from digitalstate.storage.engine import make_engine
    from digitalstate.storage.migrate import upgrade

    engine = make_engine(database_url)
    tune_for_bulk_load(engine)
    prefix = uuid.uuid4().int >> 64
    try:
        upgrade(engine)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fill") as writer:
            pending: Future[None] | None = None
            for first in range(0, people, CHUNK):
                numbers = range(first, min(first + CHUNK, people))
                names = [person_pseudonym(secret, n) for n in numbers]
                records = [_record(p, n, now) for p, n in zip(names, numbers, strict=True)]
                consents = [
                    _consent(consent_id(prefix, n), REQUESTER, p, now)
                    for p, n in zip(names, numbers, strict=True)
                ]
                if pending is not None:
                    pending.result()
                    if on_chunk is not None:
                        on_chunk(first)
                pending = writer.submit(_write, engine, records, consents)
            if pending is not None:
                pending.result()
        fanout = pseudonym(secret, HOLDER, FANOUT_PERSON)
        _write(
            engine,
            [_record(fanout, 0, now)],
            [_consent(str(uuid.uuid4()), member, fanout, now) for member in subscribers],
        )
        _settle(engine)
        if on_chunk is not None:
            on_chunk(people)
    finally:
        engine.dispose()
    return Fill(prefix=prefix, fanout_pseudonym=fanout, fanout_consents=len(subscribers))


def _settle(engine: Engine) -> None:
    """Leave the database as a node would find it: WAL folded in, or statistics gathered."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("register_records", "held_consents"):
            connection.execute(text(f"VACUUM ANALYZE {table}"))
