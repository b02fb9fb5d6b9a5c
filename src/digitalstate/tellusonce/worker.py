"""The delivery worker of a register node: sends the outbox's change notices, at least once.

It wakes when a change is committed (the node's "outbox" event) or every poll_seconds, takes
the due notices oldest first, and sends them, at most CONCURRENCY at a time. A notice is
marked delivered only after its receiver answered 2xx, in a transaction of its own: a process
killed between the two just sends the notice again, and the receiver ignores the duplicate.
Nothing committed to the outbox is ever dropped: a failure only moves the next try later, and
after [tellusonce] dead_after_hours moves the notice to the dead-letter list for an operator.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from digitalstate.exchange.client import ExchangeError, ExchangeResponse
from digitalstate.settings import TellUsOnceSection
from digitalstate.storage.retrying import run_step
from digitalstate.tellusonce.domain import WARN_AFTER_ATTEMPTS, Backoff
from digitalstate.tellusonce.service import (
    Failure,
    PendingNotice,
    due_notices,
    mark_delivered,
    record_failure,
)

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger("digitalstate.tellusonce")

OUTBOX_EVENT = "outbox"
NOTICES_PATH = "/exchange/v1/notices"
CONCURRENCY = 16


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def describe_failure(error: ExchangeError | ExchangeResponse) -> str:
    """One line saying why a notice was not taken: the peer's problem type and detail if any."""
    if isinstance(error, ExchangeError):
        return str(error)
    problem = error.problem()
    if problem is not None and problem.type is not None:
        return f"answered {error.status} {problem.type}: {problem.detail or ''}"
    return f"answered {error.status}: {error.body[:200].decode('utf-8', 'replace')}"


@dataclass
class DeliveryWorker:
    """Deliver a register node's outbox; run() forever, or deliver_due() once in tests."""

    node: NodeRuntime
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.Random)
    concurrency: int = CONCURRENCY

    @property
    def settings(self) -> TellUsOnceSection:
        """The node's [tellusonce] settings."""
        return self.node.settings.tellusonce

    async def run(self) -> None:
        """Deliver due notices whenever woken, and at least every poll_seconds, until cancelled."""
        await self.node.run_when_woken(
            OUTBOX_EVENT,
            self.drain,
            lambda: self.settings.poll_seconds,
            logger=log,
            failed="outbox delivery pass failed; trying again in a moment",
        )

    async def drain(self) -> None:
        """Deliver due notices batch after batch until fewer than a full batch were due."""
        while True:
            taken, clean = await self.deliver_due()
            if taken < self.settings.batch_size or not clean:
                return

    async def deliver_due(self) -> tuple[int, bool]:
        """Send every notice due now (one batch); return how many, and whether all were settled."""
        now = self.clock()
        batch = self.settings.batch_size
        notices = await run_step(self.node.sessions, lambda s: due_notices(s, now, batch))
        if not notices:
            return 0, True
        limit = asyncio.Semaphore(self.concurrency)

        async def one(notice: PendingNotice) -> None:
            async with limit:
                await self.deliver(notice)

        results = await asyncio.gather(*(one(n) for n in notices), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            # The notice stays due and is sent again at the next pass: at least once.
            log.error("could not settle an outbox notice: %r", error)
        return len(notices), not errors

    async def deliver(self, notice: PendingNotice) -> bool:
        """Send one notice; mark it delivered on 2xx, otherwise schedule the next try."""
        body = notice.body(self.node.settings.node.id)
        outcome: ExchangeError | ExchangeResponse
        try:
            outcome = await self.node.client.call(
                notice.requester, "POST", NOTICES_PATH, json_body=body
            )
        except ExchangeError as exc:
            outcome = exc
        if isinstance(outcome, ExchangeResponse) and outcome.ok:
            delivered_at = self.clock()
            await run_step(
                self.node.sessions,
                lambda s: mark_delivered(s, notice, delivered_at, self.node.settings.node.id),
            )
            log.debug("notice %d delivered to %s", notice.id, notice.requester)
            return True
        await self.fail(notice, describe_failure(outcome))
        return False

    async def fail(self, notice: PendingNotice, error: str) -> Failure | None:
        """Record a failed try: back off, or dead-letter the notice once it is too old."""
        now = self.clock()
        backoff = Backoff(self.settings.retry_base_seconds, self.settings.retry_max_seconds)
        dead_after = timedelta(hours=self.settings.dead_after_hours)
        failure = await run_step(
            self.node.sessions,
            lambda s: record_failure(
                s, notice, error, now, rng=self.rng, backoff=backoff, dead_after=dead_after
            ),
        )
        if failure is None:
            return None
        where = f"notice {notice.id} to {notice.requester} (consent {notice.consent_id})"
        if failure.dead:
            log.error(
                "%s dead-lettered after %d failed tries since %s: %s; retry it from "
                "/operator/outbox or with 'digitalstate outbox retry --id %d'",
                where,
                failure.attempts,
                notice.created_at.isoformat(),
                error,
                notice.id,
            )
        elif failure.attempts >= WARN_AFTER_ATTEMPTS:
            log.warning(
                "%s failed %d times, next try at %s: %s",
                where,
                failure.attempts,
                failure.next_attempt_at.isoformat(),
                error,
            )
        else:
            log.info("%s failed (try %d): %s", where, failure.attempts, error)
        return failure
