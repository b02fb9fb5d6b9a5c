"""A service's counts for a month, computed by DuckDB from the node's events (ADR 0025).

The node's own database (SQLite or PostgreSQL) keeps the events. For one service and one
month, the columns the counts need are read through the (service, at) index in one query and
handed to DuckDB, in memory, as NumPy columns (no DuckDB extension: none can be installed where
nodes run offline). DuckDB then makes two passes: one by journey (started in the month?
completed or refused? its last page) for the completion rate and the pages where people give
up, and one over the month's events for everything else. The counts are kept by month
(performance/service.py), so that pages never read the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import numpy as np
from sqlalchemy import Connection, select, text

from digitalstate.performance.figures import MonthCounts, next_month
from digitalstate.performance.models import ServiceEventRow

COLUMNS = ("journey", "kind", "page", "channel", "duration_ms", "value")

# The services with events: a walk down the (service, at) index, one seek a service, on
# SQLite and PostgreSQL alike (neither skips through an index for DISTINCT by itself).
SERVICES = text(
    "WITH RECURSIVE s(service) AS ("
    " SELECT min(service) FROM service_events"
    " UNION ALL SELECT (SELECT min(service) FROM service_events e WHERE e.service > s.service)"
    " FROM s WHERE s.service IS NOT NULL"
    ") SELECT service FROM s WHERE service IS NOT NULL"
)

BY_JOURNEY = """
WITH journeys AS (
  SELECT journey,
    bool_or(kind = 'started') AS started,
    bool_or(kind = 'completed') AS completed,
    bool_or(kind = 'refused') AS refused,
    arg_max(page, seq) FILTER (kind IN ('page', 'left')) AS last_page
  FROM events WHERE journey IS NOT NULL GROUP BY journey
)
SELECT
  count(*) FILTER (started),
  count(*) FILTER (started AND completed),
  list(last_page) FILTER (started AND NOT completed AND NOT refused AND last_page IS NOT NULL)
FROM journeys
"""

BY_EVENT = """
SELECT
  count(*) FILTER (kind = 'completed' AND channel = 'digital'),
  count(*) FILTER (kind = 'completed' AND channel = 'assisted'),
  count(*) FILTER (kind = 'refused'),
  count(*) FILTER (kind = 'left'),
  count(*) FILTER (kind = 'rated' AND value = 1),
  count(*) FILTER (kind = 'rated' AND value = 2),
  count(*) FILTER (kind = 'rated' AND value = 3),
  count(*) FILTER (kind = 'rated' AND value = 4),
  count(*) FILTER (kind = 'rated' AND value = 5),
  quantile_disc(duration_ms, 0.5) FILTER (kind = 'completed'),
  quantile_disc(duration_ms, 0.9) FILTER (kind = 'completed')
FROM events
"""

GAVE_UP = "SELECT page, count(*) FROM unnest($pages) AS t(page) GROUP BY page"


@dataclass(frozen=True)
class MonthResult:
    """A service's counts for a month, and how many journeys gave up at each page."""

    counts: MonthCounts
    gave_up: dict[str, int]


def services_with_events(connection: Connection) -> list[str]:
    """The slugs of the services that recorded events, in order."""
    return [row[0] for row in connection.execute(SERVICES)]


def analytics() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for compute_month: one for a run of months, since
    opening one costs three times what a month's queries do (17 against 5 ms of CPU)."""
    return duckdb.connect()


def compute_month(
    connection: Connection, service: str, month: date, duck: duckdb.DuckDBPyConnection
) -> MonthResult:
    """service's counts for month (its first day), from its events in that month, computed on
    duck (see analytics).

    A journey counts for the month it started in; one that started near the end of a month
    and ended in the next counts as not completed (its start and end are in different
    months): docs/performance.md says so.
    """
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end_day = next_month(month)
    end = datetime(end_day.year, end_day.month, 1, tzinfo=UTC)
    # The month's events in the order they happened (a journey's last page is its last one).
    rows = connection.execute(
        select(*(getattr(ServiceEventRow, name) for name in COLUMNS))
        .where(
            ServiceEventRow.service == service,
            ServiceEventRow.at >= start,
            ServiceEventRow.at < end,
        )
        .order_by(ServiceEventRow.at)
    ).all()
    if not rows:
        return MonthResult(MonthCounts(service, month), {})
    # Handed over as columns (NumPy arrays): a third of the cost of handing over rows.
    events = {
        name: np.array(column, dtype=object)
        for name, column in zip(COLUMNS, zip(*rows, strict=True), strict=True)
    }
    events["seq"] = np.arange(len(rows))
    duck.register("events", events)
    try:
        # fetchall, never fetchone: DuckDB refuses to unregister the view while a result is
        # unfinished, which would hide whatever error came before the finally.
        (started, started_completed, pages), *_ = duck.execute(BY_JOURNEY).fetchall()
        (found,) = duck.execute(BY_EVENT).fetchall()
        digital, assisted, refused, left, r1, r2, r3, r4, r5, median, p90 = found
        gave_up = dict(duck.execute(GAVE_UP, {"pages": pages or []}).fetchall())
    finally:
        duck.unregister("events")
    counts = MonthCounts(
        service,
        month,
        started=int(started),
        started_completed=int(started_completed),
        completed_digital=int(digital),
        completed_assisted=int(assisted),
        refused=int(refused),
        left=int(left),
        ratings=(int(r1), int(r2), int(r3), int(r4), int(r5)),
        median_ms=None if median is None else int(median),
        p90_ms=None if p90 is None else int(p90),
    )
    return MonthResult(counts, {str(page): int(count) for page, count in gave_up.items()})
