"""The log's Prometheus metrics, on the node's own registry (NodeRuntime.metrics).

Several nodes run in one test process, so nothing here touches prometheus-client's global
registry: each node's metrics are made once on its own registry and served at GET /metrics.

- digitalstate_log_size: this node's integrated tree size (set by the sequencer).
- digitalstate_log_pending: entries appended and not yet integrated (read when scraped).
- digitalstate_log_alarms_total{member,kind}: alarms this node's witness raised (since start).
- digitalstate_log_alarms_open{member,kind}: alarms not yet cleared (read when scraped).
- digitalstate_log_witness_failing{member}: 1 while a witnessed log cannot be fetched.
- digitalstate_log_witnessed_size{member}: the newest size verified of a witnessed log.
- digitalstate_log_audit_entries_total{requester,basis}: entries disclosed to auditors.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from digitalstate.transparency.models import LogAlarm
from digitalstate.transparency.store import pending_count


@dataclass(frozen=True)
class LogMetrics:
    """The log's metrics on one registry."""

    size: Gauge
    alarms: Counter
    failing: Gauge
    witnessed_size: Gauge
    audit_entries: Counter


_made: weakref.WeakKeyDictionary[CollectorRegistry, LogMetrics] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def log_metrics(registry: CollectorRegistry) -> LogMetrics:
    """The log's metrics on registry, made on first use."""
    with _lock:
        found = _made.get(registry)
        if found is None:
            found = LogMetrics(
                size=Gauge(
                    "digitalstate_log_size",
                    "Entries integrated into this node's log (its tree size)",
                    registry=registry,
                ),
                alarms=Counter(
                    "digitalstate_log_alarms",
                    "Alarms this node's witness raised about another member's log",
                    ["member", "kind"],
                    registry=registry,
                ),
                failing=Gauge(
                    "digitalstate_log_witness_failing",
                    "1 while this node's witness cannot fetch a member's log",
                    ["member"],
                    registry=registry,
                ),
                witnessed_size=Gauge(
                    "digitalstate_log_witnessed_size",
                    "The newest tree size this node's witness verified of a member's log",
                    ["member"],
                    registry=registry,
                ),
                audit_entries=Counter(
                    "digitalstate_log_audit_entries",
                    "Log entries this node disclosed to auditors under a statutory basis",
                    ["requester", "basis"],
                    registry=registry,
                ),
            )
            _made[registry] = found
        return found


class LogStateCollector(Collector):
    """Metrics read from the database when scraped: pending entries and open alarms."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        """The pending count and the open alarms by member and kind."""
        pending = GaugeMetricFamily(
            "digitalstate_log_pending", "Entries appended to this node's log, not yet integrated"
        )
        open_alarms = GaugeMetricFamily(
            "digitalstate_log_alarms_open",
            "Alarms about another member's log that no one has cleared",
            labels=["member", "kind"],
        )
        with self.engine.connect() as db:
            pending.add_metric([], pending_count(db))
            rows = db.execute(
                select(LogAlarm.member, LogAlarm.kind, func.count())
                .where(LogAlarm.cleared_at.is_(None))
                .group_by(LogAlarm.member, LogAlarm.kind)
            ).all()
        for member, kind, count in rows:
            open_alarms.add_metric([member, kind], int(count))
        yield pending
        yield open_alarms

    def describe(self) -> list[Metric]:
        """Nothing up front: describing would read the database at registration."""
        return []
