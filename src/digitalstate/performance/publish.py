"""What a node publishes about a service's year: every count suppressed, every share and time
held back where the rule says (performance/suppression.py), each month's KPIs (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from digitalstate.performance.figures import (
    HELD_BACK,
    Costs,
    Figure,
    Kpis,
    MonthCounts,
    month_kpis,
    sum_counts,
)
from digitalstate.performance.suppression import Shown, SuppressedTable, suppress_table

RATING_NAMES = (
    "very_dissatisfied",
    "dissatisfied",
    "neither",
    "satisfied",
    "very_satisfied",
)


@dataclass(frozen=True)
class PublishedMonth:
    """A month of a service as published: its KPIs and its counts, suppressed."""

    month: date
    kpis: Kpis
    started: Shown
    completed_digital: Shown
    completed_assisted: Shown
    completed: Shown
    ratings: tuple[Shown, ...]  # 1 .. 5
    rated: Shown
    empty: bool  # no event at all in the month


@dataclass(frozen=True)
class ServiceYear:
    """A service's months as published, the year's totals, and where people gave up."""

    service: str
    months: list[PublishedMonth]
    completed: SuppressedTable  # months by channel (digital, assisted)
    ratings: SuppressedTable  # months by rating (1 .. 5)
    started: SuppressedTable  # months, one column
    gave_up: list[tuple[str, Shown]]  # pages, most first
    gave_up_total: Shown
    year: Kpis  # the KPIs of the year's counts together

    @property
    def latest(self) -> PublishedMonth | None:
        """The latest month with events, or None."""
        return next((m for m in reversed(self.months) if not m.empty), None)


def publish_service(
    service: str,
    counts: Sequence[MonthCounts],
    gave_up: Mapping[str, int],
    costs: Costs | None,
) -> ServiceYear:
    """service's months (counts, in order, one each) as published."""
    completed = suppress_table([[c.completed_digital, c.completed_assisted] for c in counts])
    ratings = suppress_table([list(c.ratings) for c in counts])
    started = suppress_table([[c.started] for c in counts])
    pages = list(gave_up.items())
    given_up = suppress_table([[n] for _, n in pages])
    first = counts[0].month if counts else date.min
    months = [
        PublishedMonth(
            month=c.month,
            kpis=split_held(month_kpis(c, costs), completed.cells[i]),
            started=started.cells[i][0],
            completed_digital=completed.cells[i][0],
            completed_assisted=completed.cells[i][1],
            completed=completed.row_totals[i],
            ratings=ratings.cells[i],
            rated=ratings.row_totals[i],
            empty=c.empty,
        )
        for i, c in enumerate(counts)
    ]
    return ServiceYear(
        service=service,
        months=months,
        completed=completed,
        ratings=ratings,
        started=started,
        gave_up=[(page, given_up.cells[i][0]) for i, (page, _) in enumerate(pages)],
        gave_up_total=given_up.total,
        year=split_held(
            month_kpis(sum_counts(service, first, counts), costs), completed.column_totals
        ),
    )


def split_held(kpis: Kpis, channels: Sequence[Shown]) -> Kpis:
    """kpis with the digital take-up and the cost per transaction held back when the table of
    completed applications holds back either channel's count (channels: digital, assisted):
    with the total shown, either figure gives the split back, and the table's other cells with
    it (secondary suppression undone)."""
    if all(count is not None for count in channels):
        return kpis
    held = Figure(None, HELD_BACK)
    return replace(
        kpis,
        digital_take_up=held if kpis.digital_take_up.shown else kpis.digital_take_up,
        cost_per_transaction=held if kpis.cost_per_transaction.shown else kpis.cost_per_transaction,
    )
