"""Everything a running node holds: settings, key, database, federation copy, exchange parts."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.exchange.bounded import AnswerTooLargeError, parse_json, read_bounded
from digitalstate.exchange.client import ExchangeClient
from digitalstate.exchange.nonces import SqlNonceStore
from digitalstate.federation.keeper import (
    FEDERATION_PATH,
    MAX_DOCUMENT_BYTES,
    NOT_MODIFIED,
    FederationKeeper,
    Fetch,
    Fetched,
)
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.node.roles import Roles, RolesCollector, Work
from digitalstate.problems import failure_reason
from digitalstate.settings import NodeSettings, SettingsError
from digitalstate.storage.engine import make_engine, make_sessions
from digitalstate.storage.migrate import upgrade
from digitalstate.storage.threads import run_blocking

log = logging.getLogger(__name__)

INITIAL_FETCH_TIMEOUT_S = 5.0


def is_loopback(host: str) -> bool:
    """True when host is a loopback name or address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class NodeRuntime:
    """The parts of one node, wired once by the app factory."""

    settings: NodeSettings
    key: KeyPair
    engine: Engine
    sessions: sessionmaker[Session]
    keeper: FederationKeeper
    nonces: SqlNonceStore
    client: ExchangeClient
    # The roles one worker of the node holds at a time (node/roles.py); features declare them
    # with exclusive().
    roles: Roles
    # Long-running work the features add (delivery workers, ...), started with the node in
    # every worker; work that must run in one worker at a time is wrapped by exclusive().
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Named events a feature waits on and another sets (for example "outbox": a change was
    # committed, deliver now rather than at the next poll).
    events: dict[str, asyncio.Event] = field(default_factory=dict)
    # This node's Prometheus metrics (GET /metrics). Its own registry, never the global one:
    # several nodes may run in one process (tests).
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)
    # Told the seconds each consent check of a read took (registers/reads.py); None but in the
    # benchmarks' app (benchmarks/app.py), which reports them.
    check_timer: Callable[[float], None] | None = None
    # Readiness checks the features add (GET /readyz), each answering {"ok", "detail"}. One
    # that fails against the federation document the node holds when it starts stops the start.
    checks: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    # The datasets the features publish, by name (publishing/service.py's PublishedDataset;
    # typed loosely because the node sits below the features), served by the publishing feature.
    datasets: dict[str, Any] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _http: aiohttp.ClientSession | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: NodeSettings, *, fetch: Fetch | None = None) -> NodeRuntime:
        """Load the key, open the database and prepare the federation copy.

        fetch is what the keeper gets the signed document with; by default the trust anchor's
        over HTTP (fetch_federation). Tests pass a stand-in (an anchor that is down, say).
        """
        key = KeyPair.load(settings.key_path)
        engine = make_engine(
            settings.database_url,
            echo=settings.database.echo,
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
        )
        anchor_key = PublicKey.from_b64(settings.federation.anchor_public_key)
        holder: dict[str, NodeRuntime] = {}

        async def fetch_from_anchor() -> Any:
            return await holder["runtime"].fetch_federation(keeper.etag)

        keeper = FederationKeeper(
            anchor_key, settings.federation_cache_path, fetch or fetch_from_anchor
        )
        skew = settings.exchange.clock_skew_seconds
        roles = Roles(
            engine,
            settings.node.id,
            retry_seconds=settings.server.role_retry_seconds,
            dead_peer_seconds=settings.server.role_dead_peer_seconds,
        )
        runtime = cls(
            settings=settings,
            key=key,
            engine=engine,
            sessions=make_sessions(engine),
            keeper=keeper,
            nonces=SqlNonceStore(engine),
            client=ExchangeClient(
                settings.node.id,
                key,
                keeper.current,
                connections=settings.exchange.client_connections,
                timeout=settings.exchange.client_timeout_seconds,
                skew=skew,
                max_answer_bytes=settings.exchange.max_answer_bytes,
            ),
            roles=roles,
        )
        runtime.metrics.register(RolesCollector(roles))
        roles.on_wake = runtime.wake_here
        holder["runtime"] = runtime
        return runtime

    def exclusive(self, role: str, work: Work, *, wakes: str | None = None) -> None:
        """Add work as background work that runs in one worker of the node at a time.

        wakes names the event that wakes work (run_when_woken): wake() in any worker reaches
        the worker holding the role.
        """
        self.background.append(self.roles.exclusive(role, work, wakes=wakes))

    def event(self, name: str) -> asyncio.Event:
        """The named event, made on first use."""
        return self.events.setdefault(name, asyncio.Event())

    async def run_when_woken(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        wait_seconds: Callable[[], float],
        *,
        logger: logging.Logger,
        failed: str,
    ) -> None:
        """Run work whenever the named event is set, and at least every wait_seconds(); forever.

        The event is cleared before each pass, so that one set during a pass wakes the next. A
        pass that raises is logged with the message failed (a broken database must not end a
        worker) and the next pass comes as usual. Cancel the task to stop it.
        """
        event = self.event(name)
        while True:
            event.clear()
            try:
                await work()
            except Exception:
                logger.exception(failed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), wait_seconds())

    def wake_here(self, name: str) -> None:
        """Set the named event of this worker (on the loop's thread)."""
        self.event(name).set()

    def wake(self, name: str) -> None:
        """Set the named event, waking whatever waits on it; safe from any thread."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop:
            # Called from a threadpool route: asyncio events belong to the loop's thread.
            loop.call_soon_threadsafe(self.event(name).set)
        else:
            self.event(name).set()
        if loop is not None and self.roles.held_elsewhere(name):
            loop.call_soon_threadsafe(self.roles.notify_soon, name)

    async def fetch_federation(self, etag: str | None = None) -> Any:
        """GET the signed federation document from the trust anchor, unless it is etag still."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        url = self.settings.federation.anchor_url + FEDERATION_PATH
        headers = {"if-none-match": etag} if etag else {}
        try:
            async with self._http.get(url, headers=headers) as response:
                if response.status == 304:
                    return NOT_MODIFIED
                if response.status != 200:
                    raise OSError(f"{url} answered {response.status}")
                body = await read_bounded(response, MAX_DOCUMENT_BYTES)
                envelope = parse_json(body)
                return Fetched(envelope, response.headers.get("etag"))
        except aiohttp.ClientError as exc:
            # The keeper knows transport failures as OSError; aiohttp's are not all OSErrors.
            raise OSError(f"{url}: {failure_reason(exc)}") from exc
        except AnswerTooLargeError as exc:
            raise OSError(f"{url} {exc}") from exc
        except ValueError as exc:  # not JSON: say whose answer it was
            raise ValueError(f"{url} did not answer JSON: {exc}") from exc

    async def _purge_nonces(self) -> None:
        """Delete expired nonces every skew seconds: one indexed DELETE, whoever runs it."""
        skew = self.settings.exchange.clock_skew_seconds
        while True:
            await asyncio.sleep(skew)
            # A further skew of grace: another worker's clock may lag this one's.
            before = int(time.time() - skew)
            try:
                await run_blocking(self.nonces.purge, before)
            except Exception:  # the next pass tries again; a full table only costs disk
                log.exception("could not purge expired nonces")

    def _refuse_failed_checks(self) -> None:
        """Raise SettingsError with a feature check's detail when one fails at start."""
        if self.keeper.document is None:
            return  # nothing to check against yet: /readyz says so until a document comes
        for check in self.checks.values():
            result = check()
            if not result["ok"]:
                raise SettingsError(result["detail"])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start the node's background work for the life of the app."""
        self._loop = asyncio.get_running_loop()
        if self.settings.database.upgrade_on_start:
            await run_blocking(upgrade, self.engine)
        self.keeper.load_cache()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.keeper.refresh(), INITIAL_FETCH_TIMEOUT_S)
        self._refuse_failed_checks()
        self._tasks.append(
            asyncio.create_task(self.keeper.run(self.settings.federation.refresh_seconds))
        )
        self._tasks.append(asyncio.create_task(self._purge_nonces()))
        self._tasks.extend(asyncio.create_task(work()) for work in self.background)
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()
            await self.client.close()
            if self._http is not None:
                await self._http.close()
            # dispose() follows the last wake sent with no await between: a wake after it is
            # not sent (notify_soon), so no thread takes a connection of the disposed engine.
            await self.roles.finish_notifying()
            self.roles.dispose()
            self.engine.dispose()
