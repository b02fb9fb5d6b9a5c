"""The one writer of a node's tree: integrates pending entries in batches and signs checkpoints.

Runs as a background task of the node. Each batch is one transaction (entries get their leaf
indexes, the completed interior nodes are stored, the head moves, a checkpoint is signed), so a
crash at any point leaves the log as it was before the batch or after it, never in between;
the entries of an interrupted batch are still pending and are integrated after restart.
On PostgreSQL the head row is locked for the batch, so two processes of one node never
integrate at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from digitalstate.keys import KeyPair
from digitalstate.storage.threads import run_blocking
from digitalstate.transparency.entries import log_origin
from digitalstate.transparency.metrics import log_metrics
from digitalstate.transparency.store import Integrated, Integrator, prune_checkpoints, read_head

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger(__name__)
EVENT = "log"
"""A runtime event that wakes the sequencer before its longest wait is up. Nothing on the
request path sets it: a wake-up per entry would integrate batches of one, each with its own
signed checkpoint and commit; entries wait at most [log] max_wait_seconds instead."""
PRUNE_EVERY = 1000


class Sequencer:
    """Integrate a node's pending entries, batch by batch."""

    def __init__(
        self,
        engine: Engine,
        origin: str,
        key: KeyPair,
        *,
        batch_size: int = 1000,
        checkpoints_kept: int = 10_000,
    ) -> None:
        self.engine = engine
        self.integrator = Integrator(origin, key)
        self.batch_size = batch_size
        self.checkpoints_kept = checkpoints_kept
        self._since_prune = 0

    def step(self, now: datetime | None = None) -> Integrated | None:
        """Integrate one batch in its own transaction; None when there was nothing to do."""
        try:
            with self.engine.begin() as connection:
                done = self.integrator.integrate(
                    connection, self.batch_size, now or datetime.now(UTC)
                )
                if done is not None:
                    self._since_prune += 1
                    if self._since_prune >= PRUNE_EVERY:
                        self._since_prune = 0
                        prune_checkpoints(connection, self.checkpoints_kept)
        except BaseException:
            self.integrator.forget()
            raise
        return done

    def drain(self) -> int:
        """Integrate until nothing is pending; return how many entries were integrated."""
        total = 0
        while (done := self.step()) is not None:
            total += done.count
            if done.count < self.batch_size:
                break
        return total


def integrated_size(engine: Engine) -> int:
    """The size of the tree as integrated so far."""
    with engine.connect() as db:
        head = read_head(db)
    return 0 if head is None else head.size


async def run_sequencer(node: NodeRuntime) -> None:
    """The node's sequencer loop: integrate, then wait for a wake-up or the longest wait."""
    settings = node.settings.log
    sequencer: Sequencer | None = None
    wake = node.event(EVENT)
    size_metric = log_metrics(node.metrics).size
    while True:
        federation = node.keeper.document  # only its name is needed: an old copy will do
        if federation is None:
            await asyncio.sleep(settings.max_wait_seconds)
            continue
        if sequencer is None:
            sequencer = Sequencer(
                node.engine,
                log_origin(federation.federation, node.settings.node.id),
                node.key,
                batch_size=settings.batch_size,
                checkpoints_kept=settings.checkpoints_kept,
            )
            with contextlib.suppress(Exception):  # only a metric: the first batch sets it too
                size_metric.set(await run_blocking(integrated_size, node.engine))
        try:
            done = await run_blocking(sequencer.step)
        except Exception:
            log.exception("the log sequencer failed a batch; it is retried")
            done = None
        if done is not None:
            size_metric.set(done.head.size)
        if done is not None and done.count >= settings.batch_size:
            continue  # more may be waiting: no pause between full batches
        wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), settings.max_wait_seconds)
