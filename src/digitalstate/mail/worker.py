"""The email worker of a node: sends the outbox's messages over SMTP, at least once.

It wakes when a feature commits a message and wakes it (the node's "email" event) or every
[email] poll_seconds, claims the messages due (mail/service.py: claim_due, so that two workers
over one database never take the same message), and sends each on a connection of its own,
all of a batch at once. A message is marked sent only after the server took it, in a
transaction of its own: a process killed between the two sends it again after its claim runs
out. Nothing queued is lost while the server is down: a transient failure only moves the next
try later (bounded exponential back-off with jitter); a refusal that will not change (a 5xx
answer to the sender, the recipients or the message) fails the message for good, with the
server's answer, for the operator's page.

A sent message is kept [email] keep_sent_days, then deleted: at most every PURGE_EVERY, a pass
deletes the messages sent before then, PURGE_BATCH at a time (each batch a short transaction
of its own), at most PURGE_BATCHES batches a pass, so that a large backlog is worked off over
several passes without holding up sending. Failed and unsent messages are never deleted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from digitalstate.backoff import Backoff
from digitalstate.mail.domain import build_message, message_id
from digitalstate.mail.metrics import EmailMetrics
from digitalstate.mail.service import (
    ClaimedEmail,
    claim_due,
    mark_sent,
    purge_sent,
    record_failure,
    release,
)
from digitalstate.mail.smtp import SendError, SmtpConfig, send
from digitalstate.settings import EmailSection
from digitalstate.storage.retrying import run_step

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger("digitalstate.mail")

EMAIL_EVENT = "email"
BATCH_SIZE = 8  # claimed and sent at the same time, each on its own connection
# A claim outlasts the longest send by this much, so that it never runs out mid-send.
LEASE_MARGIN_SECONDS = 60.0
WARN_AFTER_ATTEMPTS = 5
PURGE_EVERY = timedelta(minutes=10)
PURGE_BATCH = 500  # sent messages deleted in one transaction
PURGE_BATCHES = 20  # batches in one pass at most


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class EmailWorker:
    """Send a node's email outbox; run() forever, or deliver_due() once in tests."""

    node: NodeRuntime
    config: SmtpConfig
    metrics: EmailMetrics
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.Random)
    batch_size: int = BATCH_SIZE
    purge_batch: int = PURGE_BATCH
    purged_at: datetime | None = None  # when the last purge pass ran (None: not yet)

    @property
    def settings(self) -> EmailSection:
        """The node's [email] settings."""
        section = self.node.settings.email
        assert section is not None, "the email worker runs only where [email] is set"
        return section

    @property
    def lease(self) -> timedelta:
        """How long a claim holds a message: the longest send and a margin."""
        return timedelta(seconds=self.config.send_bound + LEASE_MARGIN_SECONDS)

    async def run(self) -> None:
        """Send due messages whenever woken, and at least every poll_seconds, until cancelled."""
        await self.node.run_when_woken(
            EMAIL_EVENT,
            self.drain,
            lambda: self.settings.poll_seconds,
            logger=log,
            failed="email pass failed; trying again in a moment",
        )

    async def drain(self) -> None:
        """Send due messages batch after batch until fewer than a full batch were due; then
        delete old sent messages, when a purge is due."""
        while True:
            taken, clean = await self.deliver_due()
            if taken < self.batch_size or not clean:
                break
        await self.purge_due()

    async def purge_due(self) -> int:
        """Delete messages sent more than keep_sent_days ago, if PURGE_EVERY has passed since
        the last purge: at most PURGE_BATCHES batches of purge_batch. How many were deleted."""
        now = self.clock()
        if self.purged_at is not None and now - self.purged_at < PURGE_EVERY:
            return 0
        self.purged_at = now
        before = now - timedelta(days=self.settings.keep_sent_days)
        deleted = 0
        for _ in range(PURGE_BATCHES):
            count = await run_step(
                self.node.sessions, lambda s: purge_sent(s, before, self.purge_batch)
            )
            deleted += count
            if count < self.purge_batch:
                break
        if deleted:
            log.info("deleted %d email messages sent before %s", deleted, before.isoformat())
        return deleted

    async def deliver_due(self) -> tuple[int, bool]:
        """Claim and send the messages due now (one batch): how many, and whether all settled."""
        now = self.clock()
        claimed = await run_step(
            self.node.sessions, lambda s: claim_due(s, now, self.batch_size, self.lease)
        )
        if not claimed:
            return 0, True
        tasks = [asyncio.ensure_future(self.deliver(one)) for one in claimed]
        try:
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            # Stopping: what was not settled is due again at once, not when the claim runs out
            # (release leaves alone what a finished send marked sent or failed).
            await asyncio.gather(*tasks, return_exceptions=True)
            await run_step(self.node.sessions, lambda s: release(s, claimed))
            raise
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            # The message stays claimed until the lease ends, then is sent again: at least once.
            log.error("could not settle an email message: %r", error)
        return len(claimed), not errors

    async def deliver(self, claimed: ClaimedEmail) -> bool:
        """Send one claimed message; mark it sent, or record why not and when to try again."""
        built = build_message(
            claimed.message,
            sender=self.config.from_address,
            message_id=message_id(claimed.id, claimed.key, self.config.from_address),
            date=self.clock(),
        )
        try:
            note = await send(self.config, built, list(claimed.message.recipients))
        except SendError as exc:
            await self.fail(claimed, exc)
            return False
        sent_at = self.clock()
        marked = await run_step(self.node.sessions, lambda s: mark_sent(s, claimed, sent_at, note))
        self.metrics.sent.inc()
        if note:
            log.warning("email %d sent, but %s", claimed.id, note)
        if not marked:
            log.warning(
                "email %d was sent after its claim ran out: it may be sent twice", claimed.id
            )
        log.debug("email %d sent", claimed.id)
        return True

    async def fail(self, claimed: ClaimedEmail, error: SendError) -> None:
        """Record a failed try: fail the message for good, or back off."""
        now = self.clock()
        backoff = Backoff(self.settings.retry_base_seconds, self.settings.retry_max_seconds)
        failure = await run_step(
            self.node.sessions,
            lambda s: record_failure(
                s,
                claimed,
                error.reason,
                now,
                permanent=error.permanent,
                rng=self.rng,
                backoff=backoff,
            ),
        )
        if failure is None:
            return
        if failure.next_attempt_at is None:
            self.metrics.failed.inc()
            log.error(
                "email %d failed for good after %d tries: %s; see /operator/email",
                claimed.id,
                failure.attempts,
                error.reason,
            )
            return
        self.metrics.send_errors.inc()
        level = logging.WARNING if failure.attempts >= WARN_AFTER_ATTEMPTS else logging.INFO
        log.log(
            level,
            "email %d not sent (try %d), next try at %s: %s",
            claimed.id,
            failure.attempts,
            failure.next_attempt_at.isoformat(),
            error.reason,
        )
