"""A service's figures for a month, and the four KPIs of the UK service standard (pure).

The counts of a month come from the node's events (performance/engine.py); here they become
what is published, by the definitions docs/performance.md gives:

- cost per transaction: what the month's completed applications cost by channel (the
  configured cost of a digital and of an assisted one), over how many were completed;
- user satisfaction: the share of the month's ratings that were satisfied or very satisfied;
- completion rate: the share of the journeys started in the month that were completed;
- digital take-up: the share of the month's completed applications that were digital;
- the median and 90th percentile time to complete, of the month's completed applications.

A month with nothing to count says so (NoData) rather than divide by zero; a share whose parts
are too few to publish is held back (performance/suppression.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from digitalstate.performance.suppression import primary, share_shown

SATISFIED = (4, 5)  # satisfied, very satisfied


@dataclass(frozen=True)
class Costs:
    """What one completed application costs the node, by channel."""

    currency: str
    digital: float
    assisted: float


@dataclass(frozen=True)
class MonthCounts:
    """What the events of one service say about one month (raw counts, never published)."""

    service: str
    month: date  # its first day
    started: int = 0  # journeys started in the month
    started_completed: int = 0  # of those, completed (by now)
    completed_digital: int = 0  # applications completed in the month, by channel
    completed_assisted: int = 0
    refused: int = 0
    left: int = 0
    ratings: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # ratings 1..5 in the month
    median_ms: int | None = None  # of the month's completed applications
    p90_ms: int | None = None

    @property
    def completed(self) -> int:
        """Applications completed in the month."""
        return self.completed_digital + self.completed_assisted

    @property
    def rated(self) -> int:
        """Ratings given in the month."""
        return sum(self.ratings)

    @property
    def satisfied(self) -> int:
        """Ratings of satisfied or very satisfied."""
        return sum(self.ratings[value - 1] for value in SATISFIED)

    @property
    def empty(self) -> bool:
        """True when nothing happened in the month."""
        return not (self.started or self.completed or self.rated or self.refused or self.left)


@dataclass(frozen=True)
class Figure:
    """A published figure: its value, or why there is none ("no data", "held back")."""

    value: float | None
    reason: str = ""

    @property
    def shown(self) -> bool:
        """True when the figure has a value."""
        return self.value is not None


NO_DATA = "no data"
HELD_BACK = "held back"
NOT_SET = "not configured"


def _share(part: int, whole: int) -> Figure:
    if whole == 0:
        return Figure(None, NO_DATA)
    if not share_shown(part, whole):
        return Figure(None, HELD_BACK)
    return Figure(round(100 * part / whole, 1))


@dataclass(frozen=True)
class Kpis:
    """The month's published KPIs (percentages 0..100, times in seconds)."""

    service: str
    month: date
    cost_per_transaction: Figure
    satisfaction: Figure
    completion_rate: Figure
    digital_take_up: Figure
    median_seconds: Figure
    p90_seconds: Figure
    started: int | None  # counts as published (suppressed)
    completed: int | None
    rated: int | None

    @property
    def no_data(self) -> bool:
        """True when the month had no events at all."""
        return all(f.reason == NO_DATA for f in self.figures())

    def figures(self) -> tuple[Figure, ...]:
        """The six figures, in the order of KPI_NAMES."""
        return (
            self.cost_per_transaction,
            self.satisfaction,
            self.completion_rate,
            self.digital_take_up,
            self.median_seconds,
            self.p90_seconds,
        )


def month_kpis(counts: MonthCounts, costs: Costs | None) -> Kpis:
    """The KPIs of a month's counts; cost per transaction with costs (None: not configured)."""
    completed = counts.completed
    take_up = _share(counts.completed_digital, completed)
    if costs is None:
        cost = Figure(None, NOT_SET)
    elif completed == 0:
        cost = Figure(None, NO_DATA)
    elif not take_up.shown:  # the cost gives the channels' split back
        cost = Figure(None, HELD_BACK)
    else:
        spent = (
            counts.completed_digital * costs.digital + counts.completed_assisted * costs.assisted
        )
        cost = Figure(round(spent / completed, 2))
    return Kpis(
        service=counts.service,
        month=counts.month,
        cost_per_transaction=cost,
        satisfaction=_share(counts.satisfied, counts.rated),
        completion_rate=_share(counts.started_completed, counts.started),
        digital_take_up=take_up,
        median_seconds=_time(counts.median_ms, completed),
        p90_seconds=_time(counts.p90_ms, completed),
        started=primary(counts.started),
        completed=primary(completed),
        rated=primary(counts.rated),
    )


def _time(ms: int | None, completed: int) -> Figure:
    if completed == 0 or ms is None:
        return Figure(None, NO_DATA)
    if primary(completed) is None:
        return Figure(None, HELD_BACK)
    return Figure(round(ms / 1000, 1))


def next_month(month: date) -> date:
    """The first day of the month after month's."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def year_start(today: date, months: int = 12) -> date:
    """The first day of the month months-1 before today's: months whole months ending with
    today's."""
    first = today.year * 12 + today.month - 1 - (months - 1)
    return date(first // 12, first % 12 + 1, 1)


def months_of(start: date, count: int) -> list[date]:
    """count months from start's, each as its first day."""
    first = start.year * 12 + start.month - 1
    return [date((first + i) // 12, (first + i) % 12 + 1, 1) for i in range(count)]


def fill_months(
    service: str, months: Sequence[date], found: Sequence[MonthCounts]
) -> list[MonthCounts]:
    """One MonthCounts for each of months, empty where found has none."""
    by_month = {c.month: c for c in found if c.service == service}
    return [by_month.get(month, MonthCounts(service, month)) for month in months]


def sum_counts(service: str, month: date, counts: Sequence[MonthCounts]) -> MonthCounts:
    """counts together, as service's for month (no times: medians do not add up)."""
    return MonthCounts(
        service,
        month,
        started=sum(c.started for c in counts),
        started_completed=sum(c.started_completed for c in counts),
        completed_digital=sum(c.completed_digital for c in counts),
        completed_assisted=sum(c.completed_assisted for c in counts),
        refused=sum(c.refused for c in counts),
        left=sum(c.left for c in counts),
        ratings=(
            sum(c.ratings[0] for c in counts),
            sum(c.ratings[1] for c in counts),
            sum(c.ratings[2] for c in counts),
            sum(c.ratings[3] for c in counts),
            sum(c.ratings[4] for c in counts),
        ),
    )
