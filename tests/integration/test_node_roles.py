"""Roles held by one worker at a time (node/roles.py): PostgreSQL advisory locks, real sessions."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from digitalstate.node.roles import Roles, channel, lock_key, notified
from digitalstate.storage.engine import make_engine
from digitalstate.tellusonce.worker import OUTBOX_EVENT
from support.nodes import start_register

RETRY_S = 0.05
BOUND_S = 10.0  # generous: a loaded machine; the roles move within a few RETRY_S


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll condition every few milliseconds until it holds; fail after BOUND_S."""
    deadline = time.monotonic() + BOUND_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Recorder:
    """Work for a role that records which holder runs it, and when it is stopped."""

    def __init__(self) -> None:
        self.running: list[str] = []
        self.stopped: list[str] = []

    def work(self, name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.running.append(name)
            try:
                await asyncio.Event().wait()  # forever, like a worker
            finally:
                self.running.remove(name)
                self.stopped.append(name)

        return run


def holders(engine: Engine, node_id: str, count: int) -> list[Roles]:
    url = engine.url.render_as_string(hide_password=False)
    return [Roles(make_engine(url), node_id, retry_seconds=RETRY_S) for _ in range(count)]


def run_then_dispose(scenario: Callable[[], Coroutine[Any, Any, None]], *all_roles: Roles) -> None:
    """asyncio.run(scenario()), then close every holder's engines."""
    try:
        asyncio.run(scenario())
    finally:
        for roles in all_roles:
            roles.dispose()
            roles.engine.dispose()


@pytest.fixture
def pg_engine(database_url: str) -> Iterator[Engine]:
    if not database_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's")
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def terminate_holder(engine: Engine, roles: Roles, role: str) -> int:
    """End the PostgreSQL session holding role's lock, as a crash or network loss would."""
    with engine.connect() as connection:
        key = lock_key(roles.scope(connection), role)  # shown as its high and low 32 bits
        ended = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND granted AND objsubid = 1 AND classid = :high AND objid = :low"
            ),
            {"high": (key >> 32) & 0xFFFF_FFFF, "low": key & 0xFFFF_FFFF},
        ).all()
    return len(ended)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_one_of_two_holds_a_role_and_it_moves_when_the_holders_session_ends(
    pg_engine: Engine,
) -> None:
    node_id = f"roles-{uuid.uuid4().hex[:8]}"
    first, second = holders(pg_engine, node_id, 2)
    record = Recorder()

    async def scenario() -> None:
        tasks = [
            asyncio.create_task(first.hold("log-sequencer", record.work("first"))),
            asyncio.create_task(second.hold("log-sequencer", record.work("second"))),
        ]
        try:
            await until(lambda: len(record.running) == 1, "one holder")
            # Several retry intervals later, still exactly one runs the role.
            for _ in range(5):
                await asyncio.sleep(RETRY_S)
                assert len(record.running) == 1
            holder, standby = (first, second) if record.running == ["first"] else (second, first)
            assert holder.describe()["holds"] == ["log-sequencer"]
            assert standby.describe()["holds"] == []

            # The holder's session goes (a dropped connection, as when its process is killed):
            # its work is stopped, and the role is taken again (by whichever asks first).
            was = record.running[0]
            assert await asyncio.to_thread(terminate_holder, pg_engine, holder, "log-sequencer")
            await until(lambda: record.stopped == [was], "the old holder's work to stop")
            await until(lambda: len(record.running) == 1, "a new holder")
            assert len(first.held) + len(second.held) == 1
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    run_then_dispose(scenario, first, second)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_holder_whose_session_the_server_ends_stops_its_work_at_once(
    pg_engine: Engine,
) -> None:
    # The server ending the lock's session frees the lock for a standby at once, so the holder
    # must not run on until its next check: with checks 30 s apart (and 300 s to answer), only
    # the holder's wait on its lock connection can stop the work within the test's bound.
    node_id = f"roles-{uuid.uuid4().hex[:8]}"
    (holder,) = holders(pg_engine, node_id, 1)
    holder.retry_seconds = 30
    holder.dead_peer_seconds = 600
    record = Recorder()

    async def scenario() -> None:
        task = asyncio.create_task(holder.hold("log-sequencer", record.work("holder")))
        try:
            await until(lambda: record.running == ["holder"], "the holder's work")
            assert await asyncio.to_thread(terminate_holder, pg_engine, holder, "log-sequencer")
            await until(lambda: record.stopped == ["holder"], "the holder's work to stop")
            assert holder.held == set()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run_then_dispose(scenario, holder)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_holder_that_stops_lets_its_standby_take_the_role_and_other_roles_stay(
    pg_engine: Engine,
) -> None:
    node_id = f"roles-{uuid.uuid4().hex[:8]}"
    first, second = holders(pg_engine, node_id, 2)
    record = Recorder()

    async def scenario() -> None:
        first_task = asyncio.create_task(first.hold("log-witness", record.work("first")))
        await until(lambda: record.running == ["first"], "the first to hold the witness")
        others = [
            asyncio.create_task(second.hold("log-witness", record.work("second"))),
            asyncio.create_task(second.hold("notice-delivery", record.work("delivery"))),
        ]
        try:
            await until(lambda: "delivery" in record.running, "the free role to be taken")
            assert "second" not in record.running  # the witness is held by the first
            first_task.cancel()  # the first worker stops (its connection closes)
            await asyncio.gather(first_task, return_exceptions=True)
            await until(lambda: "second" in record.running, "the standby to take over")
            assert sorted(second.held) == ["log-witness", "notice-delivery"]
        finally:
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    run_then_dispose(scenario, first, second)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_wake_in_a_standby_reaches_the_holder_through_notify(pg_engine: Engine) -> None:
    node_id = f"roles-{uuid.uuid4().hex[:8]}"
    first, second = holders(pg_engine, node_id, 2)
    record = Recorder()
    woken: list[tuple[str, str]] = []
    first.on_wake = lambda event: woken.append(("first", event))
    second.on_wake = lambda event: woken.append(("second", event))
    # A long interval: only a NOTIFY can wake the holder within the test's bound.
    for roles in (first, second):
        roles.retry_seconds = 30

    async def scenario() -> None:
        holding = asyncio.create_task(
            first.exclusive("notice-delivery", record.work("first"), wakes="outbox")()
        )
        await until(lambda: record.running == ["first"], "the first to hold the role")
        second.exclusive("notice-delivery", record.work("second"), wakes="outbox")
        try:
            assert second.held_elsewhere("outbox") == ["notice-delivery"]
            assert first.held_elsewhere("outbox") == []  # held here: nobody to tell
            assert second.held_elsewhere("email") == []
            await asyncio.to_thread(second.notify, "outbox")
            await until(lambda: woken == [("first", "outbox")], "the holder to be woken")
        finally:
            holding.cancel()
            await asyncio.gather(holding, return_exceptions=True)

    run_then_dispose(scenario, first, second)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_the_one_process_holds_every_role(database_url: str) -> None:
    engine = make_engine(database_url)
    roles = Roles(engine, "sqlite-node", retry_seconds=RETRY_S)
    record = Recorder()
    run = roles.exclusive("log-sequencer", record.work("only"))

    async def scenario() -> None:
        task = asyncio.create_task(run())
        await until(lambda: record.running == ["only"], "the role's work")
        assert roles.describe()["holds"] == ["log-sequencer"]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert roles.describe()["holds"] == []

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_a_role_whose_work_fails_is_started_again(database_url: str) -> None:
    # As a PostgreSQL holder lets a failed role go and takes it again: the sequencer's loop
    # failing once must not leave the node without a sequencer until it restarts.
    engine = make_engine(database_url)
    roles = Roles(engine, "sqlite-node", retry_seconds=RETRY_S)
    starts: list[int] = []

    async def fails_once() -> None:
        starts.append(len(starts))
        if len(starts) == 1:
            raise RuntimeError("the first run fails")
        await asyncio.Event().wait()

    async def scenario() -> None:
        task = asyncio.create_task(roles.exclusive("log-sequencer", fails_once)())
        try:
            await until(lambda: len(starts) == 2, "the work to be started again")
            assert roles.describe()["holds"] == ["log-sequencer"]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()


def test_each_node_and_role_has_its_own_lock_key() -> None:
    keys = {lock_key(node, role) for node in ("a", "b") for role in ("log-sequencer", "x")}
    assert len(keys) == 4
    assert all(-(2**63) <= key < 2**63 for key in keys)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_lock_connection_gives_up_on_a_silent_peer_at_both_ends(pg_engine: Engine) -> None:
    # The server ends a silent holder's session; the holder's own side ends a check hung on a
    # dead network, so its thread returns rather than waiting for the kernel's retransmissions.
    (holder,) = holders(pg_engine, f"roles-{uuid.uuid4().hex[:8]}", 1)
    holder.dead_peer_seconds = 12
    connection = holder._try_take("log-witness")
    try:
        assert connection is not None
        client = connection.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
        assert client["keepalives_idle"] == "6" and client["tcp_user_timeout"] == "12000"
        server = connection.execute(text("SHOW tcp_user_timeout")).scalar_one()
        assert server == "12000"  # milliseconds, as PostgreSQL shows it
    finally:
        if connection is not None:
            connection.close()
        holder.dispose()
        holder.engine.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_burst_of_wakes_in_a_standby_costs_at_most_two_notifies(pg_engine: Engine) -> None:
    # Each committed change at a worker that does not hold notice delivery wakes the holder;
    # a NOTIFY apiece would take a pooled connection and a request thread apiece.
    (standby,) = holders(pg_engine, f"roles-{uuid.uuid4().hex[:8]}", 1)
    standby.exclusive("notice-delivery", Recorder().work("standby"), wakes="outbox")
    listener = pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    listener.execute(text(f'LISTEN "{channel(standby.scope(listener), "notice-delivery")}"'))

    async def scenario() -> None:
        for _ in range(50):
            standby.notify_soon("outbox")
        await standby.finish_notifying()

    try:
        run_then_dispose(scenario, standby)
        driver = listener.connection.driver_connection
        received = list(driver.notifies(timeout=0.5))  # type: ignore[union-attr]
        assert 1 <= len(received) <= 2
    finally:
        listener.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_stopping_node_waits_for_a_wake_being_sent_and_sends_none_after(
    pg_engine: Engine,
) -> None:
    # A wake is sent on a thread with a pooled connection of the node's engine. Were the engine
    # disposed of while that thread held it, the connection would go back to a pool nobody
    # knows and stay open until garbage collection (a test failed on its ResourceWarning).
    (standby,) = holders(pg_engine, f"roles-{uuid.uuid4().hex[:8]}", 1)
    standby.exclusive("notice-delivery", Recorder().work("standby"), wakes="outbox")
    sending, gate = threading.Event(), threading.Event()

    @event.listens_for(standby.engine, "checkout")
    def held_up(*_: object) -> None:
        sending.set()
        gate.wait(BOUND_S)

    async def scenario() -> None:
        standby.notify_soon("outbox")
        finished = asyncio.ensure_future(standby.finish_notifying())
        await until(sending.is_set, "the wake's thread to take a connection")
        await asyncio.sleep(RETRY_S)
        assert not finished.done(), "finish_notifying returned while a wake was being sent"
        gate.set()
        await finished
        assert standby.engine.pool.checkedout() == 0
        standby.dispose()
        tasks = len(asyncio.all_tasks())
        standby.notify_soon("outbox")  # the node has stopped: nothing is started
        assert len(asyncio.all_tasks()) == tasks

    run_then_dispose(scenario, standby)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_stopping_node_gives_back_the_wakes_connection_before_its_engine_goes(
    tmp_path: Path, migrated_database_url: str
) -> None:
    # NodeRuntime.running's stop order: a wake sent to the worker holding notice delivery
    # (from a request's thread, as a write does) is sent, and its connection given back to
    # the pool, before the node disposes of its engine. The wake's thread is held at its
    # checkout for a moment, long enough for a stop that did not wait to dispose first.
    happened: list[str] = []
    gate = threading.Event()
    held: list[threading.Thread] = []  # the wake's thread, once it takes its connection
    returning: list[threading.Thread] = []  # and until it gives that connection back
    url = "http://127.0.0.1:8102"
    with start_register(tmp_path / "register", migrated_database_url, (), base_url=url) as node:
        engine = node.runtime.engine

        @event.listens_for(engine, "checkout")
        def held_up(*_: object) -> None:
            if not held and threading.current_thread() is not threading.main_thread():
                held.append(threading.current_thread())
                returning.append(threading.current_thread())
                threading.Timer(RETRY_S * 6, gate.set).start()
                gate.wait(BOUND_S)

        @event.listens_for(engine, "checkin")
        def given_back(*_: object) -> None:
            # Only that connection: the thread is one of a pool, and may take others later.
            if threading.current_thread() in returning:
                returning.clear()
                happened.append("given back")

        @event.listens_for(engine, "engine_disposed")
        def disposed(*_: object) -> None:
            happened.append("disposed")

        waker = threading.Thread(target=node.runtime.wake, args=(OUTBOX_EVENT,))
        waker.start()
        waker.join()
    assert held, "the wake took no connection"
    assert happened == ["given back", "disposed"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_one_wait_of_the_holder_takes_every_notify_already_received(pg_engine: Engine) -> None:
    # NOTIFYs that arrive while the holder checks its lock wait in psycopg's backlog; taken one
    # per wait, a steady stream of them would grow it without end.
    listener = pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        listener.execute(text('LISTEN "roles_backlog"'))
        with pg_engine.connect() as sender:
            for _ in range(20):
                sender.execute(text("NOTIFY roles_backlog"))
                sender.commit()
        listener.execute(text("SELECT 1"))  # they arrive during a query: kept for later
        assert notified(listener, 0.5)
        assert not notified(listener, 0.05)
    finally:
        listener.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_wait_ends_when_the_node_stops_and_a_notify_still_wakes_it(pg_engine: Engine) -> None:
    # A stopping node (Roles.dispose) writes to the stop socket: the threads waiting on lock
    # connections return then, rather than at the end of their wait, which held the node's
    # shutdown (it closes those connections, and a waiting thread holds its connection's lock).
    listener = pg_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    stop, stopping = socket.socketpair()
    try:
        listener.execute(text('LISTEN "roles_stop"'))
        with pg_engine.connect() as sender:
            sender.execute(text("NOTIFY roles_stop"))
            sender.commit()
        assert notified(listener, 60, stop)  # a NOTIFY wakes it as before
        stopping.send(b"x")
        started = time.monotonic()
        assert not notified(listener, 60, stop)
        assert time.monotonic() - started < 30  # woken by the stop, not by the wait's end
    finally:
        listener.close()
        stop.close()
        stopping.close()


def sessions_opened(roles: Roles) -> list[object]:
    """The lock sessions roles opens from now on (one item per new connection)."""
    opened: list[object] = []
    event.listen(roles._engine_for_locks(), "connect", lambda dbapi, _record: opened.append(dbapi))
    return opened


def backend_pid(connection: Connection) -> int:
    return connection.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]


async def standby_session(roles: Roles, role: str) -> Connection:
    """The connection roles stands by on for role, once it does. A thread asking again takes
    it out of _standby for the while it asks: read it between asks, never by key alone."""
    kept: list[Connection] = []

    def standing_by() -> bool:
        connection = roles._standby.get(role)
        kept[:] = [connection] if connection is not None else []
        return bool(kept)

    await until(standing_by, f"a session standing by for {role}")
    return kept[0]


def sessions_alive(engine: Engine, pids: Collection[int]) -> set[int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": list(pids)}
        )
        return {row.pid for row in rows}


def assert_sessions_end(engine: Engine, pids: Collection[int], what: str) -> None:
    """The PostgreSQL sessions pids are gone within BOUND_S (a backend exits just after its
    client closes the connection)."""
    deadline = time.monotonic() + BOUND_S
    while sessions_alive(engine, pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sessions_alive(engine, pids), what


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_standby_asks_again_on_one_session_and_takes_the_role_on_it(pg_engine: Engine) -> None:
    first, second = holders(pg_engine, f"roles-{uuid.uuid4().hex[:8]}", 2)
    record = Recorder()
    opened_by = {"first": sessions_opened(first), "second": sessions_opened(second)}
    pids: set[int] = set()

    async def scenario() -> None:
        tasks = {"first": asyncio.create_task(first.hold("log-sequencer", record.work("first")))}
        await until(lambda: record.running == ["first"], "the first to hold the role")
        tasks["second"] = asyncio.create_task(second.hold("log-sequencer", record.work("second")))
        try:
            await until(lambda: len(opened_by["second"]) == 1, "the second to ask")
            await asyncio.sleep(RETRY_S * 10)  # about ten more asks, on the same session
            assert len(opened_by["second"]) == 1 and second.held == set()
            pids.add(backend_pid(await standby_session(second, "log-sequencer")))

            # The holder stops: the standby takes the role on the session it asked on.
            tasks.pop("first").cancel()
            await until(lambda: record.running == ["second"], "the standby to take the role")
            assert len(opened_by["second"]) == 1, "the role was taken on the kept session"

            # The first stands by now. The server ends its session (an idle timeout, a
            # restart): its next ask opens a new one quietly, and it takes the role when free.
            tasks["first"] = asyncio.create_task(first.hold("log-sequencer", record.work("first")))
            ended = backend_pid(await standby_session(first, "log-sequencer"))
            before = len(opened_by["first"])
            with pg_engine.connect() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
            await until(lambda: len(opened_by["first"]) > before, "a new standby session")
            assert record.running == ["second"]
            tasks.pop("second").cancel()
            await until(lambda: record.running == ["first"], "the first to take the role")
            pids.update(backend_pid(c) for c in first._open)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    run_then_dispose(scenario, first, second)
    assert_sessions_end(pg_engine, pids, "every lock session closed at dispose")
    assert first._open == set() == second._open


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_thread_asking_as_the_node_stops_keeps_no_lock_and_opens_no_session(
    pg_engine: Engine,
) -> None:
    (roles,) = holders(pg_engine, f"roles-{uuid.uuid4().hex[:8]}", 1)
    asked_on: list[int] = []

    def dispose_meanwhile(dbapi: Any, _record: object) -> None:
        """A session for the lock is opening: the node stops (dispose) at that moment."""
        if not asked_on:
            asked_on.append(dbapi.info.backend_pid)
            roles.dispose()

    event.listen(roles._engine_for_locks(), "connect", dispose_meanwhile)
    try:
        with pytest.raises(RuntimeError, match="disposed"):
            roles._try_take("log-sequencer")
        with pytest.raises(RuntimeError, match="disposed"):
            roles._try_take("witness")  # and no new session once it has
        assert roles._open == set() and roles._standby == {}
        assert_sessions_end(pg_engine, asked_on, "the lock went with its session")
    finally:
        roles.engine.dispose()
