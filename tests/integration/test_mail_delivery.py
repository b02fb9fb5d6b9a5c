"""The email outbox and its worker, against a real SMTP server (aiosmtpd) on a loopback port.

The node is a NodeRuntime with [email] pointing at the server, on SQLite and on PostgreSQL;
the worker runs one pass at a time on a clock the test moves, so a back-off is crossed by
moving the clock, never by waiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from digitalstate.mail import worker as mail_worker
from digitalstate.mail.domain import InvalidEmailError
from digitalstate.mail.models import OutboxEmail
from digitalstate.mail.service import claim_due, count_outbox, mark_sent, queue_email
from digitalstate.mail.smtp import SmtpConfig
from digitalstate.mail.worker import EMAIL_EVENT, EmailWorker
from digitalstate.settings import SettingsError
from digitalstate.storage.engine import is_busy
from integration.mail_support import ALICE, Mailer, mail_node_settings
from support.clocks import Clock
from support.nodes import node_runtime
from support.smtp import FROM_ADDRESS, SmtpServer

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BOB = "bob@example.test"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server on a loopback port, running."""
    with SmtpServer(tmp_path / "smtp") as server:
        yield server


@pytest.fixture
def mailer(tmp_path: Path, database_url: str, engine: object, smtp: SmtpServer) -> Iterator[Mailer]:
    """A node whose [email] sends to smtp, its outbox empty, its clock at START."""
    settings = mail_node_settings(
        tmp_path / "node", database_url, smtp, retry_base_seconds=10, retry_max_seconds=600
    )
    node = node_runtime(settings)
    try:
        yield Mailer(node, smtp, Clock(START))
    finally:
        node.engine.dispose()


def test_a_message_is_queued_only_when_the_callers_transaction_commits(mailer: Mailer) -> None:
    class UndoneError(Exception):
        pass

    with pytest.raises(UndoneError), mailer.node.sessions.begin() as session:
        queue_email(session, ALICE, "Rolled back", "Never sent", key="undone", now=START)
        raise UndoneError
    assert mailer.rows() == []
    assert mailer.deliver() == [(0, True)]

    queued = mailer.queue("kept")
    assert queued.new
    assert [row.dedupe_key for row in mailer.rows()] == ["kept"]


def test_a_message_out_of_bounds_is_refused_before_anything_is_written(mailer: Mailer) -> None:
    with pytest.raises(InvalidEmailError) as refused, mailer.node.sessions.begin() as session:
        queue_email(session, "not an address", "Hi", "Body", key="bad", now=START)
    assert refused.value.field == "to"
    assert mailer.rows() == []


def test_a_queued_message_is_delivered_once_with_its_headers(mailer: Mailer) -> None:
    queued = mailer.queue("visit:1", to=[ALICE, BOB], subject="Ymweliad", body="Diolch — £5\n")

    assert mailer.deliver() == [(1, True)]
    [caught] = mailer.smtp.wait_for(1)
    assert caught.mail_from == FROM_ADDRESS
    assert caught.rcpt_to == [ALICE, BOB]
    assert caught.subject == "Ymweliad"
    assert caught.body.replace("\r\n", "\n") == "Diolch — £5\n"
    assert caught.message_id.startswith(f"<email-{queued.id}-")
    row = mailer.row(queued.id)
    assert row.sent_at == START and row.attempts == 0 and row.claim is None
    assert mailer.counter("digitalstate_email_sent_total") == 1

    # Sent is sent: the next pass sends nothing again.
    mailer.clock.advance(hours=1)
    assert mailer.deliver() == [(0, True)]
    assert len(mailer.smtp.messages()) == 1


def test_the_same_key_queues_one_message_even_from_transactions_at_the_same_moment(
    mailer: Mailer,
) -> None:
    first = mailer.queue("confirmation:RTV-7KD4")
    again = mailer.queue("confirmation:RTV-7KD4", subject="A retried request")
    assert (first.new, again.new, again.id) == (True, False, first.id)

    barrier = threading.Barrier(4)

    def queue_once(_: int) -> int:
        barrier.wait(5)
        return mailer.queue("confirmation:KX2Q-P7LM").id

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(queue_once, range(4)))
    assert len(ids) == 1
    assert [row.dedupe_key for row in mailer.rows()] == [
        "confirmation:RTV-7KD4",
        "confirmation:KX2Q-P7LM",
    ]
    assert mailer.row(first.id).subject == "Your visit is booked"


def test_nothing_is_lost_while_the_server_is_down_and_it_goes_once_the_server_is_back(
    mailer: Mailer,
) -> None:
    mailer.smtp.stop()
    queued = mailer.queue("visit:2")

    assert mailer.deliver() == [(1, True)]
    row = mailer.row(queued.id)
    assert row.attempts == 1 and row.sent_at is None and row.failed_at is None
    assert "Connect" in row.last_error or "refused" in row.last_error.lower(), row.last_error
    # Retried after the back-off: 10 s for the first failure, times 0.5 to 1.5.
    assert START + timedelta(seconds=5) <= row.next_attempt_at <= START + timedelta(seconds=15)
    assert mailer.counter("digitalstate_email_send_errors_total") == 1

    assert mailer.deliver() == [(0, True)], "not due again before its next try"
    mailer.clock.now = row.next_attempt_at
    assert mailer.deliver() == [(1, True)]
    assert mailer.row(queued.id).attempts == 2, "still down: a second failure"
    # The waits grow: 20 s times 0.5 to 1.5 after the second failure.
    second = mailer.row(queued.id).next_attempt_at - mailer.clock.now
    assert timedelta(seconds=10) <= second <= timedelta(seconds=30)

    mailer.smtp.start()
    mailer.clock.now = mailer.row(queued.id).next_attempt_at
    assert mailer.deliver() == [(1, True)]
    assert len(mailer.smtp.wait_for(1)) == 1
    row = mailer.row(queued.id)
    assert row.sent_at == mailer.clock.now and row.attempts == 2
    assert count_outbox_now(mailer) == {"queued": 0, "retrying": 0, "sent": 1, "failed": 0}


def count_outbox_now(mailer: Mailer) -> dict[str, int]:
    with mailer.node.sessions() as session:
        return dict(count_outbox(session))


def test_the_back_off_is_capped(mailer: Mailer) -> None:
    mailer.smtp.stop()
    queued = mailer.queue("visit:cap")
    for _ in range(12):
        mailer.clock.now = mailer.row(queued.id).next_attempt_at
        mailer.deliver()
    row = mailer.row(queued.id)
    assert row.attempts == 12
    # retry_max_seconds is 600: never more than 1.5 times that.
    assert row.next_attempt_at - mailer.clock.now <= timedelta(seconds=900)


def test_a_5xx_refusal_fails_the_message_for_good_with_the_servers_answer(
    mailer: Mailer,
) -> None:
    mailer.smtp.refuse("550 5.1.1 No such mailbox here")
    queued = mailer.queue("visit:3")

    assert mailer.deliver() == [(1, True)]
    row = mailer.row(queued.id)
    assert row.failed_at == START and row.sent_at is None and row.attempts == 1
    assert "550" in row.last_error and "No such mailbox here" in row.last_error
    assert mailer.counter("digitalstate_email_failed_total") == 1

    mailer.smtp.refuse(None)
    mailer.clock.advance(days=1)
    assert mailer.deliver() == [(0, True)], "a failed message is not tried again"
    assert mailer.smtp.messages() == []


def test_a_5xx_answer_to_the_message_itself_fails_it_too(mailer: Mailer) -> None:
    mailer.smtp.refuse("554 5.6.0 Message refused", at="data")
    queued = mailer.queue("visit:data")
    mailer.deliver()
    row = mailer.row(queued.id)
    assert row.failed_at is not None and "554 5.6.0 Message refused" in row.last_error


def purge(worker: EmailWorker) -> int:
    """One purge pass of worker, on the test's clock."""
    return asyncio.run(worker.purge_due())


def test_sent_messages_are_deleted_after_keep_sent_days_and_no_others(
    mailer: Mailer,
) -> None:
    """The default keeps a sent message 90 days; a failed one and an unsent one stay."""
    settings = mailer.node.settings.email
    assert settings is not None and settings.keep_sent_days == 90
    sent = [mailer.queue(f"visit:old-{n}").id for n in range(5)]
    mailer.deliver()  # all five sent at START
    mailer.smtp.refuse("550 5.1.1 No such mailbox here")
    failed = mailer.queue("visit:failed").id
    mailer.deliver()  # failed for good at START
    mailer.smtp.refuse("451 4.3.0 Try again later")
    waiting = mailer.queue("visit:waiting").id
    mailer.deliver()  # tried, and waits
    worker = mailer.worker()
    worker.purge_batch = 2  # three batches: 2, 2 and 1

    mailer.clock.advance(days=90)  # exactly the period: kept
    assert purge(worker) == 0
    mailer.clock.advance(minutes=10, seconds=1)
    assert purge(worker) == 5
    left = {row.id for row in mailer.rows()}
    assert left == {failed, waiting} and not left & set(sent)
    # The waiting one, sent now, stays until its own 90 days have passed.
    mailer.smtp.refuse(None)
    mailer.clock.advance(days=1)
    assert mailer.deliver() == [(1, True)]
    mailer.clock.advance(days=89)
    assert purge(worker) == 0
    assert {row.id for row in mailer.rows()} == {failed, waiting}


def test_a_purge_runs_at_most_every_ten_minutes_and_a_bounded_number_of_batches(
    mailer: Mailer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail_worker, "PURGE_BATCHES", 2)
    for n in range(5):
        mailer.queue(f"visit:{n}")
    mailer.deliver()
    worker = mailer.worker()
    worker.purge_batch = 2
    mailer.clock.advance(days=91)

    assert purge(worker) == 4  # two batches of two: the rest waits for the next pass
    assert len(mailer.rows()) == 1
    mailer.clock.advance(minutes=9)
    assert purge(worker) == 0  # too soon
    mailer.clock.advance(minutes=1)
    assert purge(worker) == 1
    assert mailer.rows() == []


def test_the_worker_purges_on_its_loop_as_set_in_keep_sent_days(mailer: Mailer) -> None:
    settings = mailer.node.settings.email
    assert settings is not None
    settings.keep_sent_days = 7
    mailer.queue("visit:week")
    mailer.deliver()
    worker = mailer.worker()
    mailer.clock.advance(days=7, seconds=1)

    asyncio.run(worker.drain())  # one pass of the loop: nothing to send, then the purge

    assert mailer.rows() == []


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_keep_sent_days_out_of_range_stops_the_node_naming_the_key(
    tmp_path: Path, database_url: str, smtp: SmtpServer, days: int
) -> None:
    with pytest.raises(SettingsError) as stopped:
        mail_node_settings(tmp_path, database_url, smtp, keep_sent_days=days)
    assert "keep_sent_days" in str(stopped.value)


def test_a_4xx_answer_is_tried_again_later(mailer: Mailer) -> None:
    mailer.smtp.refuse("451 4.3.0 Try again later")
    queued = mailer.queue("visit:4")
    mailer.deliver()
    row = mailer.row(queued.id)
    assert row.failed_at is None and row.attempts == 1 and "451" in row.last_error

    mailer.smtp.refuse(None)
    mailer.clock.now = row.next_attempt_at
    mailer.deliver()
    assert mailer.row(queued.id).sent_at is not None
    assert len(mailer.smtp.wait_for(1)) == 1


def test_a_message_refused_for_one_recipient_goes_to_the_others_and_says_so(
    mailer: Mailer,
) -> None:
    mailer.smtp.refuse("550 5.1.1 No such mailbox", only=[BOB])
    queued = mailer.queue("visit:5", to=[ALICE, BOB])
    mailer.deliver()
    [caught] = mailer.smtp.wait_for(1)
    assert caught.rcpt_to == [ALICE]
    row = mailer.row(queued.id)
    assert row.sent_at is not None
    assert "bob@example.test: 550" in row.last_error


def test_two_workers_at_the_same_moment_send_each_message_once(
    mailer: Mailer, tmp_path: Path
) -> None:
    """Two nodes' workers (two engines, as two processes) over one database and one server."""
    other = node_runtime(mailer.node.settings)
    try:
        ids = [mailer.queue(f"visit:many:{n}", to=f"person{n}@example.test").id for n in range(12)]
        workers = (mailer.worker(), mailer.worker(other, seed=4))
        for worker in workers:
            worker.batch_size = 8
        taken = mailer.deliver(*workers)
        taken += mailer.deliver(*workers)
        assert sum(count for count, _clean in taken) == 12
        caught = mailer.smtp.wait_for(12)
        assert sorted(m.rcpt_to[0] for m in caught) == sorted(
            f"person{n}@example.test" for n in range(12)
        )
        assert all(mailer.row(i).sent_at is not None for i in ids)
    finally:
        other.engine.dispose()


def test_claims_made_at_the_same_moment_never_overlap(mailer: Mailer) -> None:
    """Four workers claim at once, round after round, until every message is held: each once.

    On PostgreSQL they take different rows (SKIP LOCKED); on SQLite those that lose the race
    for the write lock take nothing that round. Never does one take what another holds.
    """
    for n in range(20):
        mailer.queue(f"claim:{n}")
    lease = timedelta(minutes=3)
    every: list[int] = []
    for _round in range(20):
        barrier = threading.Barrier(4)

        def claim(_: int, barrier: threading.Barrier = barrier) -> list[int]:
            barrier.wait(5)
            for _attempt in range(20):  # a busy database is retried, as run_step does
                try:
                    with mailer.node.sessions.begin() as session:
                        return [c.id for c in claim_due(session, START, 5, lease)]
                except OperationalError as exc:
                    if not is_busy(exc):
                        raise
            raise AssertionError("the database stayed busy")

        with ThreadPoolExecutor(4) as pool:
            every += [i for ids in pool.map(claim, range(4)) for i in ids]
        if len(every) >= 20:
            break
    assert sorted(every) == sorted(set(every)) == [row.id for row in mailer.rows()]
    with mailer.node.sessions.begin() as session:
        assert claim_due(session, START, 5, lease) == [], "every message is held"


def test_a_claim_that_runs_out_is_taken_again_and_its_late_holder_cannot_settle_it(
    mailer: Mailer,
) -> None:
    """A worker that died mid-send: its messages go again once its claim ends."""
    queued = mailer.queue("visit:6")
    lease = timedelta(minutes=3)
    with mailer.node.sessions.begin() as session:
        [dead] = claim_due(session, START, 10, lease)
    assert mailer.deliver() == [(0, True)], "held by the dead worker"

    mailer.clock.now = START + lease + timedelta(seconds=1)
    assert mailer.deliver() == [(1, True)]
    assert len(mailer.smtp.wait_for(1)) == 1
    with mailer.node.sessions.begin() as session:
        assert not mark_sent(session, dead, mailer.clock.now)
    assert mailer.row(queued.id).sent_at == mailer.clock.now


def test_a_worker_stopped_mid_send_gives_its_messages_back_at_once(mailer: Mailer) -> None:
    queued = mailer.queue("visit:7")
    worker = mailer.worker()
    stall = threading.Event()
    original = mailer.smtp.handler.handle_DATA

    async def slow_data(*args: object) -> str:
        stall.set()
        await asyncio.sleep(30)
        return await original(*args)  # type: ignore[arg-type]

    mailer.smtp.handler.handle_DATA = slow_data  # type: ignore[method-assign]

    async def stop_mid_send() -> None:
        task = asyncio.ensure_future(worker.deliver_due())
        assert await asyncio.to_thread(stall.wait, 10), "the send never reached DATA"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(stop_mid_send())
    row = mailer.row(queued.id)
    assert row.claim is None and row.claimed_until is None and row.sent_at is None


def test_starttls_required_of_a_server_that_offers_none_is_a_transient_failure(
    tmp_path: Path, database_url: str, engine: object, smtp: SmtpServer
) -> None:
    settings = mail_node_settings(tmp_path / "tls", database_url, smtp, starttls=True)
    node = node_runtime(settings)
    try:
        mailer = Mailer(node, smtp, Clock(START))
        queued = mailer.queue("visit:tls")
        mailer.deliver()
        row = mailer.row(queued.id)
        assert row.failed_at is None and row.attempts == 1
        assert "STARTTLS" in row.last_error
        assert smtp.messages() == []
    finally:
        node.engine.dispose()


def test_the_worker_wakes_when_told_and_sends_at_once(mailer: Mailer) -> None:
    """run(): a message committed and the node woken is sent without waiting for a poll."""
    worker = mailer.worker()
    mailer.clock.now = datetime.now(UTC)

    async def run_and_wake() -> None:
        task = asyncio.ensure_future(worker.run())
        try:
            await asyncio.sleep(0.05)  # the first pass finds nothing and waits
            mailer.queue("visit:woken")
            mailer.node.wake(EMAIL_EVENT)
            await asyncio.to_thread(mailer.smtp.wait_for, 1)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    settings = mailer.node.settings
    assert settings.email is not None
    settings.email.poll_seconds = 60  # a poll cannot be what sends it within the test
    asyncio.run(asyncio.wait_for(run_and_wake(), 20))
    assert [m.subject for m in mailer.smtp.messages()] == ["Your visit is booked"]


def bare_row(key: str) -> OutboxEmail:
    """An outbox row written directly, not through queue_email."""
    return OutboxEmail(
        dedupe_key=key,
        recipients="[]",
        subject="s",
        body="b",
        created_at=START,
        attempts=0,
        next_attempt_at=START,
        last_error="",
    )


def test_queueing_the_same_key_in_an_open_transaction_does_not_break_it(mailer: Mailer) -> None:
    """ON CONFLICT DO NOTHING: a duplicate key never aborts the caller's transaction."""
    with mailer.node.sessions.begin() as session:
        first = queue_email(session, ALICE, "One", "Body", key="same", now=START)
        second = queue_email(session, ALICE, "Two", "Body", key="same", now=START)
        session.add(bare_row("other"))
    assert first.id == second.id and not second.new
    assert [row.dedupe_key for row in mailer.rows()] == ["same", "other"]
    with pytest.raises(IntegrityError), mailer.node.sessions.begin() as session:
        session.add(bare_row("same"))


# --- settings ------------------------------------------------------------------------------


def test_a_password_file_others_can_read_stops_the_node_in_one_line(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    password = tmp_path / "smtp-password"
    password.write_text("s3cret\n")
    password.chmod(0o644)
    settings = mail_node_settings(
        tmp_path / "node", database_url, smtp, username="prisons", password_file=str(password)
    )
    with pytest.raises(SettingsError) as refused:
        SmtpConfig.from_settings(settings)
    assert str(refused.value) == (
        f"{password}: [email] password_file is open to others (mode 644); fix: chmod 600 {password}"
    )
    password.chmod(0o600)
    assert SmtpConfig.from_settings(settings).password == "s3cret"
    password.unlink()
    with pytest.raises(SettingsError, match="password_file cannot be read"):
        SmtpConfig.from_settings(settings)


def test_a_from_address_that_is_not_one_stops_the_node_naming_the_key(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    settings = mail_node_settings(tmp_path / "node", database_url, smtp, from_address="prisons")
    with pytest.raises(SettingsError) as refused:
        SmtpConfig.from_settings(settings)
    assert "[email] from_address: 'prisons' is not an email address" in str(refused.value)
    assert "DIGITALSTATE_EMAIL__FROM_ADDRESS" in str(refused.value)
