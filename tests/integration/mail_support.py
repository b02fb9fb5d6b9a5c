"""Shared parts of the email tests: a node's runtime with [email], its worker and its outbox."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from digitalstate.mail.metrics import EmailMetrics, register_email_metrics
from digitalstate.mail.models import OutboxEmail
from digitalstate.mail.service import Queued, queue_email
from digitalstate.mail.smtp import SmtpConfig
from digitalstate.mail.worker import EmailWorker
from digitalstate.node.runtime import NodeRuntime
from digitalstate.settings import NodeSettings
from support.clocks import Clock
from support.nodes import node_settings
from support.smtp import SmtpServer

ALICE = "alice@example.test"


def mail_node_settings(
    directory: Path, database_url: str, smtp: SmtpServer, **email: Any
) -> NodeSettings:
    """Settings of a node (member "prisons") whose [email] sends to smtp."""
    return node_settings(
        directory,
        "prisons",
        database_url,
        name="Prisons",
        roles=("service",),
        extra={"email": smtp.email_settings(**email)},
    )


@dataclass
class Mailer:
    """A node's runtime with [email] set, its outbox, and workers on a clock the test moves."""

    node: NodeRuntime
    smtp: SmtpServer
    clock: Clock
    metrics: EmailMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = register_email_metrics(self.node.metrics, self.node.sessions)

    def worker(self, node: NodeRuntime | None = None, seed: int = 3) -> EmailWorker:
        """An email worker of node (this one by default) on the test's clock."""
        runtime = node or self.node
        return EmailWorker(
            runtime,
            SmtpConfig.from_settings(runtime.settings),
            self.metrics,
            clock=self.clock,
            rng=random.Random(seed),
        )

    def queue(
        self,
        key: str,
        to: str | Iterable[str] = ALICE,
        subject: str = "Your visit is booked",
        body: str = "Your visit on 3 March is booked.\n",
    ) -> Queued:
        """Queue a message in a transaction of its own, committed."""
        with self.node.sessions.begin() as session:
            return queue_email(session, to, subject, body, key=key, now=self.clock())

    def row(self, email_id: int) -> OutboxEmail:
        """The outbox row of a message, as committed."""
        with self.node.sessions() as session:
            found = session.get(OutboxEmail, email_id)
            assert found is not None
            return found

    def rows(self) -> list[OutboxEmail]:
        """Every outbox row, oldest first."""
        with self.node.sessions() as session:
            return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))

    def deliver(self, *workers: EmailWorker) -> list[tuple[int, bool]]:
        """One pass of each worker (this node's by default), all at the same time."""

        async def passes() -> list[tuple[int, bool]]:
            return list(
                await asyncio.gather(*(w.deliver_due() for w in workers or [self.worker()]))
            )

        return asyncio.run(passes())

    def counter(self, name: str) -> float:
        """A metric's value on the node's registry (0 when never set)."""
        value = self.node.metrics.get_sample_value(name)
        return 0.0 if value is None else value
