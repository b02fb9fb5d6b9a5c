"""The re-read worker of a service node: one read per consent, retried with back-off, never lost.

The register is replaced by a recorded double of the exchange; the database is real (SQLite
and PostgreSQL); the worker's clock is moved by the test.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.demo.federation import demo_service
from digitalstate.exchange.client import ExchangeError, ExchangeResponse
from digitalstate.services.models import ServiceCopy
from digitalstate.services.service import record_consent
from digitalstate.settings import TellUsOnceSection
from digitalstate.tellusonce.models import ReceivedNotice
from digitalstate.tellusonce.rereads import SWEEP_SECONDS, RereadWorker
from digitalstate.tellusonce.service import Notice, receive_notice

START = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
PENSIONS = demo_service("liverpool-pensions")


@dataclass
class Register:
    """Answers reads with the next prepared answer; a missing answer means it is down."""

    answers: list[ExchangeResponse] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)

    async def call(self, peer: str, method: str, path: str, **kwargs: Any) -> ExchangeResponse:
        self.reads.append(kwargs["consent"])
        if not self.answers:
            raise ExchangeError(f"{peer} at http://127.0.0.1:9 did not answer")
        return self.answers.pop(0)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def read(version: int) -> ExchangeResponse:
    body = {
        "fields": {"people.address": {"lines": ["1 Quay"], "town": "Liverpool"}},
        "version": version,
    }
    return ExchangeResponse(200, {}, json.dumps(body).encode())


def worker(sessions: sessionmaker[Session], register: Register, clock: Clock) -> RereadWorker:
    node: Any = SimpleNamespace(
        settings=SimpleNamespace(tellusonce=TellUsOnceSection()),
        sessions=sessions,
        client=register,
    )
    return RereadWorker(node, clock=clock, rng=random.Random(5))


def take(sessions: sessionmaker[Session], consent_id: str, version: int) -> str:
    key = uuid.uuid4().hex
    notice = Notice(consent_id, "people-register", ["people.address"], version, key)
    with sessions.begin() as session:
        assert receive_notice(session, notice, "people-register", START)
    return key


def a_consent(sessions: sessionmaker[Session]) -> str:
    consent_id = str(uuid.uuid4())
    with sessions.begin() as session:
        record_consent(session, consent_id, "s" * 32, PENSIONS, START)  # type: ignore[arg-type]
    return consent_id


def processed(sessions: sessionmaker[Session]) -> dict[str, bool]:
    with sessions.begin() as session:
        rows = session.scalars(select(ReceivedNotice))
        return {row.idempotency_key: row.processed_at is not None for row in rows}


def test_several_notices_for_one_consent_are_settled_by_one_read(
    sessions: sessionmaker[Session],
) -> None:
    consent_id = a_consent(sessions)
    keys = [take(sessions, consent_id, v) for v in (2, 3)]
    register = Register([read(3)])

    assert asyncio.run(worker(sessions, register, Clock()).process()) == 1

    assert register.reads == [consent_id]
    assert processed(sessions) == dict.fromkeys(keys, True)
    with sessions.begin() as session:
        copy = session.get(ServiceCopy, consent_id)
        assert copy is not None and copy.version == 3


def test_a_read_that_fails_is_tried_again_after_a_back_off_and_nothing_is_lost(
    sessions: sessionmaker[Session],
) -> None:
    consent_id = a_consent(sessions)
    key = take(sessions, consent_id, 2)
    register, clock = Register(), Clock()
    rereads = worker(sessions, register, clock)

    asyncio.run(rereads.process())  # the register is down

    assert processed(sessions) == {key: False}
    failures, when = rereads.retry_at[consent_id]
    assert failures == 1
    assert timedelta(seconds=0.5) <= when - START <= timedelta(seconds=1.5)
    assert rereads.wait_seconds() < SWEEP_SECONDS

    asyncio.run(rereads.process())  # not due yet: no call
    assert register.reads == [consent_id]

    clock.now = when
    register.answers.append(read(2))
    asyncio.run(rereads.process())

    assert register.reads == [consent_id, consent_id]
    assert processed(sessions) == {key: True}
    assert rereads.retry_at == {} and rereads.wait_seconds() == SWEEP_SECONDS


def test_a_notice_for_a_consent_not_held_here_is_settled_without_a_read(
    sessions: sessionmaker[Session],
) -> None:
    key = take(sessions, str(uuid.uuid4()), 2)
    register = Register()

    asyncio.run(worker(sessions, register, Clock()).process())

    assert register.reads == [] and processed(sessions) == {key: True}


def test_notices_left_by_a_stopped_process_are_read_by_the_next_one(
    sessions: sessionmaker[Session],
) -> None:
    consent_id = a_consent(sessions)
    key = take(sessions, consent_id, 2)
    asyncio.run(worker(sessions, Register(), Clock()).process())  # fails, then the process ends

    asyncio.run(worker(sessions, Register([read(2)]), Clock()).process())  # a fresh process

    assert processed(sessions) == {key: True}
