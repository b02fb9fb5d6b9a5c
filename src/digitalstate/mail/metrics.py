"""The email outbox's Prometheus metrics, on the node's own registry (NodeRuntime.metrics).

- digitalstate_email_outbox_pending: messages queued or retrying (read when scraped).
- digitalstate_email_sent_total: messages the SMTP server took (since the process started).
- digitalstate_email_failed_total: messages failed for good: the server refused them (5xx).
- digitalstate_email_send_errors_total: tries that failed and will be tried again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.mail.service import pending_count


@dataclass(frozen=True)
class EmailMetrics:
    """The email worker's counters on one registry."""

    sent: Counter
    failed: Counter
    send_errors: Counter


class PendingCollector(Collector):
    """digitalstate_email_outbox_pending, counted in the database when scraped."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        """The number of messages waiting to be sent."""
        pending = GaugeMetricFamily(
            "digitalstate_email_outbox_pending",
            "Email messages queued or retrying in this node's outbox, not yet sent",
        )
        with self.sessions() as session:
            pending.add_metric([], pending_count(session))
        yield pending

    def describe(self) -> list[Metric]:
        """Nothing up front: describing would read the database at registration."""
        return []


def register_email_metrics(
    registry: CollectorRegistry, sessions: sessionmaker[Session]
) -> EmailMetrics:
    """Make the email metrics on registry (once per node: the feature installs them)."""
    registry.register(PendingCollector(sessions))
    return EmailMetrics(
        sent=Counter(
            "digitalstate_email_sent",
            "Email messages the SMTP server took",
            registry=registry,
        ),
        failed=Counter(
            "digitalstate_email_failed",
            "Email messages failed for good: the SMTP server refused them",
            registry=registry,
        ),
        send_errors=Counter(
            "digitalstate_email_send_errors",
            "Tries to send an email message that failed and will be tried again",
            registry=registry,
        ),
    )
