"""The identity check worker of an electoral registration office: one per node, state in the DB.

It wakes when a register-to-vote application is committed (the node's "electoral-checks"
event, set by the journey after the submit transaction) or every POLL_SECONDS, claims the
checks due (electoral/service.py claim_due: two workers over one database never take the same
one), and for each asks the registers, through the charter, whether the applicant's values are
theirs: the National Insurance number at the register that holds it (the tax register), the
name and date of birth at the People register, each a match under the published statutory
basis `electoral-identity-check` (POST /exchange/v1/basis-matches: answered only matched or
not, and recorded at the charter and at the register). Then it settles the check in a
transaction of its own. A call that fails (a register or the charter down, a refusal) leaves
the check pending and moves its next try later, with bounded exponential back-off and jitter;
nothing is lost, and a worker that dies mid-check leaves it to be taken again once its claim
runs out.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from digitalstate.backoff import Backoff
from digitalstate.electoral.domain import by_holder
from digitalstate.electoral.service import (
    ClaimedCheck,
    claim_due,
    record_failure,
    release,
    settle,
)
from digitalstate.exchange.client import ExchangeError
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.storage.retrying import run_step

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger("digitalstate.electoral")

CHECK_EVENT = "electoral-checks"
BASIS = "electoral-identity-check"
MATCH_PATH = "/exchange/v1/basis-matches"
POLL_SECONDS = 5.0
BATCH_SIZE = 8
LEASE = timedelta(minutes=2)  # longer than a check's calls can take (two, 10 s each at most)
WARN_AFTER_ATTEMPTS = 5


class MatchFailedError(Exception):
    """The registers could not answer: try again later; str() says why."""


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class IdentityCheckWorker:
    """Match a node's pending identity checks; run() forever, or check_due() once in tests."""

    node: NodeRuntime
    definitions: Mapping[str, ServiceDefinition]  # the node's services by slug
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.Random)
    backoff: Backoff = field(default_factory=lambda: Backoff(2.0, 300.0))
    batch_size: int = BATCH_SIZE

    async def run(self) -> None:
        """Match due checks whenever woken, and at least every POLL_SECONDS, until cancelled."""
        await self.node.run_when_woken(
            CHECK_EVENT,
            self.drain,
            lambda: POLL_SECONDS,
            logger=log,
            failed="identity check pass failed; trying again in a moment",
        )

    async def drain(self) -> None:
        """Check batch after batch until fewer than a full batch were due."""
        while await self.check_due() >= self.batch_size:
            pass

    async def check_due(self) -> int:
        """Claim the checks due now (one batch) and match each: how many were claimed."""
        now = self.clock()
        claimed = await run_step(
            self.node.sessions, lambda s: claim_due(s, now, self.batch_size, LEASE)
        )
        done = 0
        try:
            for one in claimed:
                await self.check(one)
                done += 1
        except asyncio.CancelledError:
            # Stopping: what was not settled is due again at once, not when the claim runs out.
            await run_step(self.node.sessions, lambda s: release(s, claimed[done:]))
            raise
        return len(claimed)

    async def check(self, claimed: ClaimedCheck) -> None:
        """Match one claimed check and settle it, or record why it failed and back off."""
        definition = self.definitions.get(claimed.slug)
        try:
            if definition is None:
                raise MatchFailedError(f"this node no longer declares the service {claimed.slug}")
            matched = await self.match(claimed, definition)
        except (ExchangeError, MatchFailedError) as exc:
            await self.fail(claimed, str(exc))
            return
        now = self.clock()
        assert definition is not None
        settled = await run_step(
            self.node.sessions, lambda s: settle(s, claimed, matched, definition, now)
        )
        log.info("identity check of %s: %s", claimed.reference, settled)

    async def match(self, claimed: ClaimedCheck, definition: ServiceDefinition) -> bool:
        """Ask each register, through the charter, whether its values are the applicant's:
        True only when all match (a register that holds no record of them: not matched)."""
        document = self.node.keeper.current()
        holders = {f.name: f.holder for f in document.fields}
        charter = next((m.id for m in document.members if "charter" in m.roles), None)
        if charter is None:
            raise MatchFailedError("the federation document names no charter")
        unheld = sorted(name for name in claimed.values if name not in holders)
        if unheld:
            raise MatchFailedError(f"no register holds {', '.join(unheld)}")
        for holder, values in by_holder(claimed.values, holders).items():
            answer = await self.node.client.call(
                charter,
                "POST",
                MATCH_PATH,
                json_body={"subject": claimed.subject, "holder": holder, "values": values},
                purpose=definition.purpose,
                basis=BASIS,
            )
            problem = None if answer.ok else answer.problem()
            if problem is not None and problem.slug == "record-not-found":
                return False
            if not answer.ok:
                detail = problem.detail if problem is not None else f"status {answer.status}"
                raise MatchFailedError(f"{holder}: {detail}")
            try:
                body = answer.json()
            except ValueError as exc:
                raise MatchFailedError(f"{holder} answered something other than JSON") from exc
            if not isinstance(body, dict) or not isinstance(body.get("matched"), bool):
                raise MatchFailedError(f"{holder} answered something other than a match")
            if not body["matched"]:
                return False
        return True

    async def fail(self, claimed: ClaimedCheck, reason: str) -> None:
        """Record a failed try and when to try again."""
        now = self.clock()
        next_try = await run_step(
            self.node.sessions,
            lambda s: record_failure(s, claimed, reason, now, rng=self.rng, backoff=self.backoff),
        )
        if next_try is None:
            return
        attempts = claimed.attempts + 1
        level = logging.WARNING if attempts >= WARN_AFTER_ATTEMPTS else logging.INFO
        log.log(
            level,
            "identity check of %s failed (try %d), next try at %s: %s",
            claimed.reference,
            attempts,
            next_try.isoformat(),
            reason,
        )
