"""Roles one worker of a node holds at a time: PostgreSQL session advisory locks (ADR 0024).

A node may run as several worker processes, on one machine or several, over one PostgreSQL.
Most background work is safe wherever it runs (row locks with SKIP LOCKED share it out), but
some must run in one worker of the node at a time: the log's sequencer, the witness (its alarms
must not be raised twice), the delivery of change notices. Each is a named role:

- a worker that wants a role opens a connection of its own and asks for the role's lock with
  ``pg_try_advisory_lock(key)``, the key derived from the node id and the role's name; the
  worker that gets it runs the role's work, the others are its standbys and ask again every
  ``[server] role_retry_seconds``;
- a session lock lives as long as its connection: when the holder's process dies, the kernel
  closes the connection, PostgreSQL ends the session and the lock is free for the next standby
  to take, within one retry interval. When the holder's machine goes, PostgreSQL notices its
  silent connection within ``[server] role_dead_peer_seconds`` (TCP keepalives and user
  timeout, set on the connection), and a standby takes the role after that;
- the holder checks its connection every retry interval too; when the check fails, or does not
  answer within half of role_dead_peer_seconds (before PostgreSQL would free the lock for a
  standby), it stops the role's work at once and becomes a standby again. Between checks it
  waits on the connection's socket, so a session the server ends (which frees the lock for a
  standby at once) stops the work at once too. role_dead_peer_seconds is at least 4 times
  role_retry_seconds (settings.py), or a cut-off holder could run on after its lock is freed.

A role may name the runtime event that wakes its work (notice delivery: "outbox"): its holder's
lock connection LISTENs on the role's channel, and a worker that sets the event without holding
the role sends a NOTIFY there (NodeRuntime.wake), so the holder starts at once.

On SQLite a node runs as one process (more workers are refused when it starts), and that
process holds every role. No consensus of our own: PostgreSQL's lock manager decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import select
import socket
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from digitalstate.storage.threads import run_blocking

log = logging.getLogger(__name__)

Work = Callable[[], Coroutine[Any, Any, None]]
LISTEN_SLICE_S = 1.0
ROLE_THREADS = 16

# The roles of a node (those its features declare: a charter has no notices to deliver).
SEQUENCER = "log-sequencer"
WITNESS = "log-witness"
NOTICE_DELIVERY = "notice-delivery"
CONSENT_WITHDRAWALS = "consent-withdrawals"
OPENDATA_HARVEST = "opendata-harvest"


def lock_key(node_id: str, role: str) -> int:
    """The advisory lock key of a node's role: 64 bits of SHA-256, as a signed bigint.

    node_id is the node's id and the schema its tables are in (Roles.scope): advisory locks
    are per database, and nodes may share one database in schemas of their own.
    """
    digest = hashlib.sha256(f"digitalstate role\0{node_id}\0{role}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def worker_id() -> str:
    """This worker's name in /readyz and /metrics: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def keepalive_settings(dead_peer_seconds: float) -> dict[str, int]:
    """Server-side TCP settings that end a silent holder's session within dead_peer_seconds.

    PostgreSQL sets them per session: the first keepalive after half the time, then three more
    a sixth apart, and the user timeout (unacknowledged data) at the whole.
    """
    whole = max(2, math.ceil(dead_peer_seconds))
    return {
        "tcp_keepalives_idle": max(1, whole // 2),
        "tcp_keepalives_interval": max(1, whole // 6),
        "tcp_keepalives_count": 3,
        "tcp_user_timeout": whole * 1000,
    }


def client_keepalives(dead_peer_seconds: float) -> dict[str, int]:
    """libpq's connection parameters for keepalive_settings, on the worker's side."""
    server = keepalive_settings(dead_peer_seconds)
    return {
        "keepalives": 1,
        "keepalives_idle": server["tcp_keepalives_idle"],
        "keepalives_interval": server["tcp_keepalives_interval"],
        "keepalives_count": server["tcp_keepalives_count"],
        "tcp_user_timeout": server["tcp_user_timeout"],
    }


@dataclass
class Roles:
    """The roles this worker holds, and the loops that take them; one per NodeRuntime."""

    engine: Engine
    node_id: str
    retry_seconds: float = 2.0
    dead_peer_seconds: float = 10.0
    declared: list[str] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    # role -> the runtime event that wakes its work; another worker's wake reaches the holder
    # as a NOTIFY on the channel its lock connection LISTENs to.
    wakes: dict[str, str] = field(default_factory=dict)
    # Told the event when a NOTIFY for it arrives (the runtime sets its event).
    on_wake: Callable[[str], None] = lambda _event: None
    _lock_engine: Engine | None = None
    # The lock connections this worker holds or stands by on: closed at dispose() if their loop
    # could not (a check's thread still on one when the node stopped, the loop gone when it
    # returned).
    _open: set[Connection] = field(default_factory=set)
    # role -> the connection this worker last asked for it on, kept open while it stands by:
    # asking again every retry_seconds reuses it rather than opening a session each time (a
    # new PostgreSQL backend per role per worker per retry, on every machine of the node).
    _standby: dict[str, Connection] = field(default_factory=dict)
    _scope: str | None = None
    _wait_limiter: anyio.CapacityLimiter | None = None
    # Events whose holders are to be told (notify_soon), and the one task per event telling them.
    _to_notify: set[str] = field(default_factory=set)
    _notifiers: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    # Written to at dispose(): wakes every thread waiting on a lock connection at once, so the
    # node stops without waiting out their slices (each holds its connection until it returns).
    # Made when the first wait starts (only a node that runs its roles on PostgreSQL waits).
    _stopping: tuple[socket.socket, socket.socket] | None = None
    # Set by dispose(): a thread still asking for a role then neither reconnects nor keeps
    # what it took (a stop abandoned halfway leaves no lock held by a stopped worker).
    _disposed: bool = False

    @property
    def locks(self) -> bool:
        """True when roles are locks (PostgreSQL); False when this process holds them all."""
        return self.engine.dialect.name == "postgresql"

    @property
    def check_timeout(self) -> float:
        """How long the holder waits for its lock check: half the time PostgreSQL gives a
        silent holder, so that it stops the role's work before a standby can take it."""
        return self.dead_peer_seconds / 2

    def exclusive(self, role: str, work: Work, *, wakes: str | None = None) -> Work:
        """work, run only while this worker holds role: a background task for NodeRuntime.

        wakes names the runtime event that wakes work: set in a worker that does not hold the
        role, it reaches the holder (notify).
        """
        if role in self.declared:
            raise ValueError(f"role {role!r} is declared twice")
        self.declared.append(role)
        if wakes is not None:
            self.wakes[role] = wakes

        async def run() -> None:
            await self.hold(role, work)

        return run

    def scope(self, connection: Connection) -> str:
        """The node id and the schema of the node's tables: what a lock key is made from."""
        if self._scope is None:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            self._scope = f"{self.node_id}\0{schema}"
        return self._scope

    def held_elsewhere(self, event: str) -> list[str]:
        """The roles event wakes that another worker holds (PostgreSQL only)."""
        if not self.locks:
            return []
        return [r for r, e in self.wakes.items() if e == event and r not in self.held]

    def notify(self, event: str) -> None:
        """Tell the holders of the roles event wakes (NOTIFY on each one's channel); blocking."""
        roles = self.held_elsewhere(event)
        if not roles:
            return
        with self.engine.connect() as connection:
            for role in roles:
                connection.execute(
                    text("SELECT pg_notify(:channel, '')"),
                    {"channel": channel(self.scope(connection), role)},
                )
            connection.commit()

    def notify_soon(self, event: str) -> None:
        """notify(event) in the background, on the loop's thread; wakes that come while one is
        sent are told with one more, so a burst of writes costs two NOTIFYs, not one each (and
        as many connections and threads, taken from the requests')."""
        if self._disposed:  # the node stopped: its engine is gone (the holder polls anyway)
            return
        self._to_notify.add(event)
        if event not in self._notifiers:
            self._notifiers[event] = asyncio.ensure_future(self._notifier(event))

    async def finish_notifying(self) -> None:
        """Wait for the wakes being sent to be sent. A stopping node waits for them before it
        disposes of its engine: a notifier's thread still on a pooled connection would give it
        back to a pool the engine no longer knows, and the connection would stay open until
        garbage collection. Bounded by dead_peer_seconds: a wake hung on a dead network must
        not hold the node's stop (its connection is then left to the garbage collector)."""
        deadline = asyncio.get_running_loop().time() + self.dead_peer_seconds
        while self._notifiers:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                log.warning("a wake for another worker was still being sent as the node stopped")
                return
            await asyncio.wait(list(self._notifiers.values()), timeout=left)

    async def _notifier(self, event: str) -> None:
        try:
            while event in self._to_notify:
                self._to_notify.discard(event)
                try:
                    await run_blocking(self.notify, event)
                except Exception:  # the holder's next poll finds the work all the same
                    log.exception("could not wake the worker holding %s's role", event)
        finally:
            del self._notifiers[event]

    def describe(self) -> dict[str, Any]:
        """This worker and its roles, for /readyz."""
        return {
            "id": worker_id(),
            "pid": os.getpid(),
            "holds": sorted(self.held),
            "standby": sorted(set(self.declared) - self.held),
        }

    async def hold(self, role: str, work: Work) -> None:
        """Run work whenever this worker holds role, standing by otherwise; until cancelled."""
        while not self.locks:  # the one process holds it; work that ends is started again
            self.held.add(role)
            try:
                await work()
                error: BaseException | None = None
            except Exception as exc:
                error = exc
            finally:
                self.held.discard(role)
            log.error("the work of role %s ended (%r); starting it again", role, error)
            await asyncio.sleep(self.retry_seconds)
        while True:
            try:
                connection = await self._take(role)
            except Exception as exc:  # the database is down: stand by and ask again
                log.warning("cannot ask for the role %s: %s", role, exc)
                connection = None
            if connection is None:
                await asyncio.sleep(self.retry_seconds)
                continue
            log.info("worker %s holds the role %s", worker_id(), role)
            self.held.add(role)
            try:
                await self._run_while_held(role, work, connection)
            finally:
                self.held.discard(role)
            await asyncio.sleep(self.retry_seconds)  # a standby may take it meanwhile

    async def _take(self, role: str) -> Connection | None:
        """_try_take in a thread; a lock taken as the task is cancelled is let go, not leaked."""
        taking = asyncio.ensure_future(run_blocking(self._try_take, role))
        try:
            return await asyncio.shield(taking)
        except asyncio.CancelledError:
            await asyncio.wait([taking])
            if not taking.cancelled() and taking.exception() is None:
                taken = taking.result()
                if taken is not None:
                    self._release(taken)
            raise

    async def _run_while_held(self, role: str, work: Work, connection: Connection) -> None:
        task = asyncio.create_task(work(), name=f"role {role}")
        event = self.wakes.get(role)
        pending: asyncio.Future[Any] | None = None
        try:
            while True:
                # Between checks, a thread waits on the lock connection's socket: for a NOTIFY
                # (a role other workers wake LISTENs), and for the server ending the session
                # (pg_terminate_backend, a restart, an idle timeout), which frees the lock for
                # a standby at once: the wait fails then, and the work stops at once rather
                # than at the next check, while a standby may already run it. In slices of at
                # most a second; a stopping node ends the wait at once (dispose's stop socket).
                listen = min(self.retry_seconds, LISTEN_SLICE_S)
                pending = asyncio.ensure_future(
                    run_blocking(
                        notified, connection, listen, self._stop_signal(), limiter=self._waits()
                    )
                )
                done, _ = await asyncio.wait(
                    {task, pending},
                    timeout=self.retry_seconds + self.check_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if task in done:
                    error = None if task.cancelled() else task.exception()
                    log.error("the work of role %s ended (%r); letting the role go", role, error)
                    return
                if pending in done and pending.exception() is None:
                    if event is not None and pending.result():
                        self.on_wake(event)
                    pending = asyncio.ensure_future(
                        run_blocking(_still_there, connection, limiter=self._waits())
                    )
                    done, _ = await asyncio.wait({pending}, timeout=self.check_timeout)
                if pending not in done or pending.exception() is not None:
                    log.error(
                        "the lock connection of role %s %s; stopping its work",
                        role,
                        "did not answer"
                        if pending not in done
                        else f"failed: {pending.exception()!r}",
                    )
                    return
                pending = None
        finally:
            self.held.discard(role)  # its work stops now; the lock goes with the connection
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if pending is not None and not pending.done():
                # A thread still on the connection (hung on a dead network, or waiting for a
                # NOTIFY): close the connection once it returns.
                pending.add_done_callback(lambda _: self._release(connection))
            else:
                await run_blocking(self._release, connection)

    def _waits(self) -> anyio.CapacityLimiter:
        """The threads that wait on lock connections (one at a time per held role, more while
        a hung one returns), apart from those requests use (anyio's default limiter, which
        Starlette shares)."""
        if self._wait_limiter is None:
            self._wait_limiter = anyio.CapacityLimiter(ROLE_THREADS)
        return self._wait_limiter

    def _engine_for_locks(self) -> Engine:
        if self._lock_engine is None:
            self._lock_engine = create_engine(
                self.engine.url,
                poolclass=NullPool,
                isolation_level="AUTOCOMMIT",  # a session lock, never an open transaction
                connect_args={
                    "connect_timeout": max(1, math.ceil(self.retry_seconds)),
                    # The client's side of the connection gives up on a silent server as the
                    # server's side does on a silent holder: a check or a lock request hung on a
                    # dead network returns within this long, not the kernel's quarter hour.
                    **client_keepalives(self.dead_peer_seconds),
                },
            )
        return self._lock_engine

    def _try_take(self, role: str) -> Connection | None:
        """A connection holding role's lock, or None when another session holds it.

        Asks on the connection kept from the last time it stood by, when there is one; if the
        server has ended that session meanwhile, asks again on a new one.
        """
        kept = self._standby.pop(role, None)
        if kept is not None:
            try:
                return self._ask(role, kept)
            except Exception as exc:
                if self._disposed:
                    raise
                log.info("the standby connection of role %s is gone (%s); reconnecting", role, exc)
        if self._disposed:
            raise RuntimeError("the node's roles are disposed of")
        connection = self._engine_for_locks().connect()
        try:
            for name, value in keepalive_settings(self.dead_peer_seconds).items():
                connection.execute(text(f"SET {name} = {int(value)}"))
        except BaseException:
            _close_quietly(connection)
            raise
        return self._ask(role, connection)

    def _ask(self, role: str, connection: Connection) -> Connection | None:
        """Try role's lock on connection: it then holds the role, or stands by on it."""
        self._open.add(connection)
        try:
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"),
                {"key": lock_key(self.scope(connection), role)},
            ).scalar_one()
            if taken and role in self.wakes:
                connection.execute(text(f'LISTEN "{channel(self.scope(connection), role)}"'))
        except BaseException:
            self._release(connection)
            raise
        if self._disposed:  # dispose() ran meanwhile: it could not close this one
            self._release(connection)
            raise RuntimeError("the node's roles are disposed of")
        if not taken:
            self._standby[role] = connection
            return None
        return connection

    def _release(self, connection: Connection) -> None:
        """Close a lock connection, which lets its lock go."""
        self._open.discard(connection)
        _close_quietly(connection)

    def dispose(self) -> None:
        """Close the lock engine, and any lock connection its loop left open (a check's thread
        still on it when the node stopped: the loop that would close it is gone)."""
        self._disposed = True
        if self._stopping is not None:  # the waiting threads return, letting go of the connections
            with contextlib.suppress(OSError):
                self._stopping[1].send(b"x")
        self._standby.clear()
        for connection in list(self._open):
            self._release(connection)
        if self._lock_engine is not None:
            self._lock_engine.dispose()
        for end in self._stopping or ():
            end.close()
        self._stopping = None

    def _stop_signal(self) -> socket.socket:
        """The socket that becomes readable when the node stops (dispose)."""
        if self._stopping is None:
            self._stopping = socket.socketpair()
        return self._stopping[0]


def channel(node_id: str, role: str) -> str:
    """The LISTEN/NOTIFY channel that wakes the holder of a node's role."""
    return f"digitalstate_{lock_key(node_id, role) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def notified(connection: Connection, timeout: float, stop: socket.socket | None = None) -> bool:
    """Wait up to timeout for NOTIFYs on the connection; True when any came.

    Every one already received is taken (psycopg keeps those that arrive during a check): one
    per wait would leave a backlog that grows for as long as they come faster than the checks.
    The wait is on the connection's socket, not inside psycopg (which holds the connection's
    lock while it waits): when stop becomes readable the wait ends at once, False. A session
    the server ended makes the socket readable, and reading it raises.
    """
    driver = connection.connection.driver_connection
    if list(driver.notifies(timeout=0, stop_after=1)):  # type: ignore[union-attr]
        return True
    # poll, not select: a busy worker's descriptors go past select's limit of 1,024.
    waits = select.poll()
    waits.register(driver.fileno(), select.POLLIN)  # type: ignore[union-attr]
    if stop is not None:
        waits.register(stop.fileno(), select.POLLIN)
    ready = {fd for fd, _ in waits.poll(max(0, math.ceil(timeout * 1000)))}
    if stop is not None and stop.fileno() in ready:
        return False
    return bool(list(driver.notifies(timeout=0, stop_after=1)))  # type: ignore[union-attr]


def _still_there(connection: Connection) -> None:
    connection.execute(text("SELECT 1"))


def _close_quietly(connection: Connection) -> None:
    with contextlib.suppress(Exception):
        connection.close()


class RolesCollector(Collector):
    """/metrics: which worker answered, and the roles it holds (1) or stands by for (0)."""

    def __init__(self, roles: Roles) -> None:
        self.roles = roles

    def collect(self) -> Iterable[InfoMetricFamily | GaugeMetricFamily]:
        """The worker's info and one gauge per declared role."""
        worker = worker_id()
        info = InfoMetricFamily("digitalstate_worker", "The worker process that answered")
        info.add_metric([], {"worker": worker, "pid": str(os.getpid())})
        yield info
        held = GaugeMetricFamily(
            "digitalstate_role_held",
            "1 when this worker holds the node's role, 0 when it stands by",
            labels=["role", "worker"],
        )
        for role in self.roles.declared:
            held.add_metric([role, worker], 1.0 if role in self.roles.held else 0.0)
        yield held


class PerWorker:
    """A node's metrics with the worker that answers as a label on every sample, for /metrics.

    Behind one port, each scrape reaches one of a machine's workers, and each worker counts its
    own requests, mails and log entries: without the label, a series would jump from one
    worker's count to another's. With it each worker's series is its own (``sum by`` the other
    labels adds them up). A sample that names its worker already keeps it.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        """Every family of the registry, its samples labelled with this worker."""
        worker = worker_id()
        for family in self.registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            labelled.samples = [
                sample._replace(
                    labels={**sample.labels, "worker": sample.labels.get("worker", worker)}
                )
                for sample in family.samples
            ]
            yield labelled
