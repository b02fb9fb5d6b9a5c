"""The outbox's delivery worker against a real service node app on a loopback port.

The register (people-register) runs as a NodeRuntime in the test's event loop, with its real
ExchangeClient and a clock the test moves. The service (test-service) is the real node app,
served by uvicorn in a thread on 127.0.0.1, on SQLite and on PostgreSQL. Both nodes use the
test's one database: their tables do not overlap (outbox, access records on the register;
received notices, service consents on the service). The service has no catalogue entry, so
this test does not depend on the service pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from log_support import logged_entries
from sqlalchemy import func, select, update

from digitalstate.node.runtime import NodeRuntime
from digitalstate.registers.models import OutboxMessage
from digitalstate.services.models import ServiceConsent
from digitalstate.settings import NodeSettings
from digitalstate.tellusonce.models import ReceivedNotice
from digitalstate.tellusonce.service import retry_dead
from digitalstate.tellusonce.worker import OUTBOX_EVENT, DeliveryWorker
from integration.tellusonce_support import received_notices
from support.federation import hold, nodes_document
from support.nodes import ServedNode, node_runtime, node_settings
from support.servers import bound_socket, port_of

HOLDER = "people-register"
REQUESTER = "test-service"
PSEUDONYM = "a" * 32
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_settings(
    directory: Path, member_id: str, roles: list[str], port: int, database_url: str, **extra: float
) -> NodeSettings:
    return node_settings(
        directory,
        member_id,
        database_url,
        name=member_id.replace("-", " ").capitalize(),
        roles=roles,
        port=port,
        extra={"tellusonce": dict(extra)} if extra else None,
    )


class Clock:
    """The worker's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Pair:
    """A register runtime and a (not yet started) service app that it notifies."""

    holder: NodeRuntime
    service: ServedNode
    clock: Clock

    def worker(self) -> DeliveryWorker:
        return DeliveryWorker(self.holder, clock=self.clock, rng=random.Random(3))

    def add_notice(self, *, created: datetime | None = None, consent_id: str = "") -> int:
        with self.holder.sessions.begin() as session:
            row = OutboxMessage(
                idempotency_key=uuid.uuid4().hex,
                consent_id=consent_id or str(uuid.uuid4()),
                requester=REQUESTER,
                pseudonym=PSEUDONYM,
                fields=json.dumps(["people.address"]),
                version=2,
                created_at=created or self.clock.now,
                attempts=0,
                next_attempt_at=created or self.clock.now,
                last_error="",
            )
            session.add(row)
            session.flush()
            return row.id

    def row(self, message_id: int) -> OutboxMessage:
        with self.holder.sessions.begin() as session:
            row = session.get(OutboxMessage, message_id)
            assert row is not None
            return row

    def received(self) -> list[ReceivedNotice]:
        return received_notices(self.holder.sessions)


@pytest.fixture
def pair(tmp_path: Path, database_url: str, engine: object) -> Iterator[Pair]:
    """A register and a service; the service's port is bound but not yet served."""
    sock = bound_socket()
    port = port_of(sock)
    holder_settings = make_settings(
        tmp_path / "holder", HOLDER, ["register"], 1, database_url, poll_seconds=60
    )
    service_settings = make_settings(
        tmp_path / "service", REQUESTER, ["service"], port, database_url
    )
    document = nodes_document(
        holder_settings, service_settings, federation="tell-us-once test federation"
    )
    hold(document, holder_settings, service_settings)
    holder = node_runtime(holder_settings)
    assert holder.keeper.load_cache()
    service = ServedNode(service_settings, sock)
    try:
        yield Pair(holder, service, Clock(START))
    finally:
        service.stop()
        holder.engine.dispose()


def deliver(pair: Pair, worker: DeliveryWorker) -> tuple[int, bool]:
    async def once() -> tuple[int, bool]:
        try:
            return await worker.deliver_due()
        finally:
            await pair.holder.client.close()

    return asyncio.run(once())


def test_a_due_notice_reaches_the_service_and_is_recorded_as_told(pair: Pair) -> None:
    pair.service.start()
    message_id = pair.add_notice()

    assert deliver(pair, pair.worker()) == (1, True)

    row = pair.row(message_id)
    assert row.delivered_at == START
    assert row.attempts == 0 and row.dead_at is None
    [notice] = pair.received()
    assert notice.idempotency_key == row.idempotency_key
    assert notice.holder == HOLDER and notice.consent_id == row.consent_id
    assert json.loads(notice.fields) == ["people.address"] and notice.version == 2
    with pair.holder.sessions.begin() as session:
        [record] = logged_entries(session)
        assert (record.pseudonym, record.requester) == (PSEUDONYM, REQUESTER)
        assert (record.action, record.outcome) == ("notified", "delivered")
        assert record.consent_id == row.consent_id and record.holder == HOLDER
        assert record.fields == ("people.address",)
    assert deliver(pair, pair.worker()) == (0, True)


def test_a_notice_sent_again_after_a_crash_is_a_duplicate_that_changes_nothing(
    pair: Pair,
) -> None:
    pair.service.start()
    message_id = pair.add_notice()
    deliver(pair, pair.worker())
    [first] = pair.received()
    # As if the register was killed after sending but before marking the notice delivered.
    with pair.holder.sessions.begin() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(delivered_at=None)
        )
    pair.clock.now += timedelta(minutes=5)

    assert deliver(pair, pair.worker()) == (1, True)

    [again] = pair.received()
    assert (again.received_at, again.version, again.fields) == (
        first.received_at,
        first.version,
        first.fields,
    )
    assert pair.row(message_id).delivered_at is not None


def test_a_service_down_for_an_hour_gets_the_notice_when_it_is_back(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = pair.add_notice()
    worker = pair.worker()
    caplog.set_level(logging.INFO, logger="digitalstate.tellusonce")

    assert deliver(pair, worker) == (1, True)
    row = pair.row(message_id)
    assert row.attempts == 1 and row.delivered_at is None
    assert "did not answer" in row.last_error
    wait = row.next_attempt_at - START
    assert timedelta(seconds=0.5) <= wait <= timedelta(seconds=1.5)

    pair.clock.now += timedelta(milliseconds=100)
    assert deliver(pair, worker) == (0, True)  # not due yet

    while pair.clock.now < START + timedelta(hours=1):
        pair.clock.now = pair.row(message_id).next_attempt_at
        assert deliver(pair, worker) == (1, True)
    row = pair.row(message_id)
    assert 14 <= row.attempts <= 30 and row.dead_at is None and row.delivered_at is None
    waits = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(waits) == row.attempts - 4  # from the fifth failure on
    assert f"notice {message_id} to {REQUESTER}" in waits[0].getMessage()

    pair.service.start()
    pair.clock.now = row.next_attempt_at
    assert deliver(pair, worker) == (1, True)
    assert pair.row(message_id).delivered_at is not None
    assert len(pair.received()) == 1


def test_a_notice_failing_past_the_limit_is_dead_lettered_until_an_operator_retries_it(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = pair.add_notice(created=START - timedelta(hours=49))
    worker = pair.worker()

    deliver(pair, worker)

    row = pair.row(message_id)
    assert row.dead_at == START
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"notice {message_id} to {REQUESTER}" in error.getMessage()
    assert "dead-lettered" in error.getMessage()
    pair.clock.now += timedelta(days=3)
    assert deliver(pair, worker) == (0, True)

    pair.service.start()
    with pair.holder.sessions.begin() as session:
        assert retry_dead(session, pair.clock.now) == [message_id]
    assert deliver(pair, worker) == (1, True)
    row = pair.row(message_id)
    assert row.delivered_at is not None and row.dead_at is None
    assert len(pair.received()) == 1


def test_a_notice_the_service_refuses_is_retried_with_the_refusal_as_its_error(
    pair: Pair,
) -> None:
    consent_id = str(uuid.uuid4())
    with pair.holder.sessions.begin() as session:
        session.add(
            ServiceConsent(
                consent_id=consent_id,
                subject="s" * 32,
                holder="newcastle-tax",
                fields="[]",
                purpose="tax-administration",
                received_at=START,
                status="active",
            )
        )
    pair.service.start()
    message_id = pair.add_notice(consent_id=consent_id)

    deliver(pair, pair.worker())

    row = pair.row(message_id)
    assert row.attempts == 1 and row.delivered_at is None
    assert "403 urn:digitalstate:problem:notice-holder-mismatch" in row.last_error
    assert pair.received() == []


def test_more_notices_than_a_batch_are_all_delivered_in_one_pass(pair: Pair) -> None:
    pair.service.start()
    ids = [pair.add_notice() for _ in range(45)]
    pair.holder.settings.tellusonce.batch_size = 20

    asyncio.run(_drain(pair))

    with pair.holder.sessions.begin() as session:
        undelivered = select(func.count()).where(
            OutboxMessage.id.in_(ids), OutboxMessage.delivered_at.is_(None)
        )
        assert session.scalar(undelivered) == 0
    assert len(pair.received()) == 45


async def _drain(pair: Pair) -> None:
    try:
        await pair.worker().drain()
    finally:
        await pair.holder.client.close()


WOKEN_WITHIN_S = 30.0
"""Half the worker's 60 s poll: a delivery sooner than this was the wake's, not the poll's."""


def test_the_running_worker_delivers_as_soon_as_it_is_woken(pair: Pair) -> None:
    pair.service.start()

    async def scenario() -> float:
        worker = DeliveryWorker(pair.holder)  # the real clock; poll_seconds is 60 here
        task = asyncio.create_task(worker.run())
        try:
            await asyncio.sleep(0.2)  # the worker's first pass found nothing
            message_id = await asyncio.to_thread(pair.add_notice, created=datetime.now(UTC))
            woken = time.monotonic()
            pair.holder.wake(OUTBOX_EVENT)
            while (await asyncio.to_thread(pair.row, message_id)).delivered_at is None:
                # Well before the 60 s poll: only the wake can have sent it. Not a speed target
                # (a loaded machine takes seconds); a bound that tells woken from polled.
                assert time.monotonic() - woken < WOKEN_WITHIN_S, "the notice was not delivered"
                await asyncio.sleep(0.02)
            return time.monotonic() - woken
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await pair.holder.client.close()

    assert asyncio.run(scenario()) < WOKEN_WITHIN_S


def test_a_database_locked_longer_than_its_busy_timeout_delays_delivery_but_loses_nothing(
    pair: Pair, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="digitalstate.tellusonce")
    caplog.set_level(logging.INFO, logger="digitalstate.storage.retrying")
    pair.service.start()
    message_id = pair.add_notice()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        # Another process's long write: SQLite's whole-database write lock, or PostgreSQL's
        # lock on the very outbox row the worker must mark.
        with pair.holder.engine.connect() as connection:
            if database_url.startswith("sqlite"):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(
                    select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
                )
            locked.set()
            release.wait(10)
            connection.rollback()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(5)
    threading.Timer(6.0, release.set).start()  # longer than SQLite's 5 s busy_timeout
    try:
        assert deliver(pair, pair.worker()) == (1, True)
    finally:
        release.set()
        holder.join()

    row = pair.row(message_id)
    assert row.delivered_at is not None and row.attempts == 0
    assert len(pair.received()) == 1
    if database_url.startswith("sqlite"):  # PostgreSQL waits for the row lock instead
        assert any("database busy" in r.getMessage() for r in caplog.records)
