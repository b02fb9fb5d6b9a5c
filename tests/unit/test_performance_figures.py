"""The KPIs of a month's counts (performance/figures.py), as published (publish.py), and the
charts drawn of them (charts.py)."""

from __future__ import annotations

import itertools
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from digitalstate.performance.charts import bar_chart, nice_top
from digitalstate.performance.figures import (
    HELD_BACK,
    NO_DATA,
    NOT_SET,
    Costs,
    MonthCounts,
    month_kpis,
    months_of,
    next_month,
    year_start,
)
from digitalstate.performance.publish import publish_service

MARCH = date(2026, 3, 1)
COSTS = Costs("GBP", 0.5, 6.0)


def test_a_month_with_no_events_says_no_data_rather_than_divide_by_zero() -> None:
    kpis = month_kpis(MonthCounts("bus", MARCH), COSTS)
    assert kpis.no_data
    assert all(figure.value is None and figure.reason == NO_DATA for figure in kpis.figures())


def test_the_four_kpis_and_the_times_of_a_month() -> None:
    counts = MonthCounts(
        "bus",
        MARCH,
        started=200,
        started_completed=150,
        completed_digital=120,
        completed_assisted=40,
        ratings=(5, 5, 10, 30, 50),
        median_ms=300_000,
        p90_ms=600_000,
    )
    kpis = month_kpis(counts, COSTS)
    assert kpis.completion_rate.value == 75.0
    assert kpis.digital_take_up.value == 75.0
    assert kpis.satisfaction.value == 80.0
    assert kpis.cost_per_transaction.value == round((120 * 0.5 + 40 * 6.0) / 160, 2)
    assert (kpis.median_seconds.value, kpis.p90_seconds.value) == (300.0, 600.0)
    assert (kpis.started, kpis.completed, kpis.rated) == (200, 160, 100)


def test_a_share_with_a_part_under_10_is_held_back_and_costs_may_be_unset() -> None:
    counts = MonthCounts("bus", MARCH, started=50, started_completed=45, completed_digital=45)
    kpis = month_kpis(counts, None)
    assert kpis.completion_rate.reason == HELD_BACK  # 5 not completed: too few
    assert kpis.digital_take_up.reason == HELD_BACK  # none assisted: the share says so
    assert kpis.cost_per_transaction.reason == NOT_SET


def test_a_services_year_is_published_with_its_tables_suppressed() -> None:
    months = months_of(MARCH, 3)
    counts = [
        MonthCounts("bus", months[0], completed_digital=100, completed_assisted=3),
        MonthCounts("bus", months[1], completed_digital=80, completed_assisted=30),
        MonthCounts("bus", months[2]),
    ]
    year = publish_service("bus", counts, {"name": 40, "address": 4}, COSTS)
    # 3 assisted in March: held back, and March's online count with it (its row has a total).
    assert [(m.completed_digital, m.completed_assisted) for m in year.months] == [
        (None, None),
        (80, 30),
        (None, None),
    ]
    assert year.gave_up == [("name", None), ("address", None)]  # one small: both, with the total
    assert year.latest is not None and year.latest.month == months[1]


def test_a_take_up_never_gives_back_a_count_its_table_holds_back() -> None:
    # April's 12 assisted are held back so that March's 3 cannot be worked out from the
    # column's total (15); April's take-up (50 of 62) and its completed total would give the
    # 12 back, and with it the 3: the take-up, and the cost that gives the split, are held too.
    months = months_of(MARCH, 2)
    counts = [
        MonthCounts("bus", months[0], completed_digital=100, completed_assisted=3),
        MonthCounts("bus", months[1], completed_digital=50, completed_assisted=12),
    ]
    year = publish_service("bus", counts, {}, COSTS)
    april = year.months[1]
    assert (april.completed_digital, april.completed_assisted) == (None, None)
    assert april.completed == 60 and year.completed.column_totals == (150, 15)
    assert april.kpis.digital_take_up.reason == HELD_BACK
    assert april.kpis.cost_per_transaction.reason == HELD_BACK
    for month in year.months:
        if month.completed_digital is None or month.completed_assisted is None:
            assert not month.kpis.digital_take_up.shown
            assert not month.kpis.cost_per_transaction.shown


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_a_year_is_twelve_months_ending_with_todays(today: date) -> None:
    months = months_of(year_start(today), 12)
    assert months[-1] == today.replace(day=1) and len(set(months)) == 12
    assert all(next_month(a) == b for a, b in itertools.pairwise(months))


def test_a_chart_draws_no_bar_for_a_value_not_shown() -> None:
    chart = bar_chart(["Jan", "Feb", "Mar"], [[10, None, 40]], top=100, unit="%")
    assert [bar.label for bar in chart.bars] == ["Jan", "Mar"]
    assert chart.bars[1].height == 4 * chart.bars[0].height
    assert [t.text for t in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    assert nice_top(0) == 1 and nice_top(37) == 50 and nice_top(101) == 200
