"""The re-read worker of a service node: after a change notice, read the changed facts again.

A notice carries no personal data; the service reads the new values through an ordinary
consented read at the register, which the register records where the person sees it. The
notice is marked processed only once that read is done (or refused, or the consent is not one
this service holds), so a node that stops between the two re-reads after it starts again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from digitalstate.services.service import refresh_copy
from digitalstate.storage.retrying import run_step
from digitalstate.tellusonce.domain import Backoff, next_attempt
from digitalstate.tellusonce.service import mark_processed, unprocessed_notices
from digitalstate.tellusonce.worker import utc_now

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger("digitalstate.tellusonce")

NOTICES_EVENT = "notices"
# Notices waiting for a re-read are looked for at least this often, for those whose re-read
# failed (the register was down) and for those a stopped process left behind.
SWEEP_SECONDS = 30.0
BATCH = 1000
CONCURRENCY = 8


@dataclass
class RereadWorker:
    """Re-read the facts of every notice not yet processed; run() forever, or process() once."""

    node: NodeRuntime
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.Random)
    # consent id -> (failed re-reads in a row, when to try again); in memory: after a restart
    # every waiting notice is simply tried at once.
    retry_at: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    async def run(self) -> None:
        """Process waiting notices when woken by a new one, and at least every SWEEP_SECONDS."""
        await self.node.run_when_woken(
            NOTICES_EVENT,
            self.process,
            self.wait_seconds,
            logger=log,
            failed="re-reading after change notices failed; trying again shortly",
        )

    def wait_seconds(self) -> float:
        """How long to sleep when nothing wakes the worker: the next retry, or a sweep."""
        if not self.retry_at:
            return SWEEP_SECONDS
        soonest = min(when for _, when in self.retry_at.values())
        return min(SWEEP_SECONDS, max(0.05, (soonest - self.clock()).total_seconds()))

    async def process(self) -> int:
        """Re-read once per consent with waiting notices whose retry is due; return how many."""
        pending = await run_step(self.node.sessions, lambda s: unprocessed_notices(s, BATCH))
        by_consent: defaultdict[str, list[str]] = defaultdict(list)
        for key, consent_id in pending:
            by_consent[consent_id].append(key)
        now = self.clock()
        due = {
            consent_id: keys
            for consent_id, keys in by_consent.items()
            if consent_id not in self.retry_at or self.retry_at[consent_id][1] <= now
        }
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(consent_id: str, keys: list[str]) -> None:
            async with limit:
                await self.reread(consent_id, keys)

        await asyncio.gather(*(one(c, k) for c, k in due.items()))
        return len(due)

    async def reread(self, consent_id: str, keys: list[str]) -> None:
        """Re-read under one consent; mark its notices processed unless the read failed."""
        result = await refresh_copy(self.node, consent_id)
        if result.outcome == "failed":
            failures = self.retry_at.get(consent_id, (0, self.clock()))[0] + 1
            settings = self.node.settings.tellusonce
            backoff = Backoff(settings.retry_base_seconds, settings.retry_max_seconds)
            when = next_attempt(failures - 1, self.clock(), self.rng, backoff)
            self.retry_at[consent_id] = (failures, when)
            log.warning(
                "re-read under consent %s failed (%d in a row), next try at %s: %s",
                consent_id,
                failures,
                when.isoformat(),
                result.detail,
            )
            return
        self.retry_at.pop(consent_id, None)
        now = self.clock()
        await run_step(self.node.sessions, lambda s: mark_processed(s, keys, now))
        log.info("re-read under consent %s after a notice: %s", consent_id, result.outcome)
