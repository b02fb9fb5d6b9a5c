"""Small-number suppression (performance/suppression.py): no count under 10 is published, the
rest are rounded to 5, and no count held back can be worked out from a row's or column's total."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.performance.suppression import (
    SuppressedTable,
    primary,
    share_shown,
    suppress_table,
)

counts = st.integers(min_value=0, max_value=400)
tables = st.integers(min_value=1, max_value=5).flatmap(
    lambda width: st.lists(st.lists(counts, min_size=width, max_size=width), max_size=8)
)


def grid(table: SuppressedTable) -> list[list[int | None]]:
    """The published table with its totals: each row ends with its total, then the totals."""
    rows = [[*cells, total] for cells, total in zip(table.cells, table.row_totals, strict=True)]
    return [*rows, [*table.column_totals, table.total]]


def raw_grid(counts: list[list[int]]) -> list[list[int]]:
    width = len(counts[0]) if counts else 0
    rows = [[*row, sum(row)] for row in counts]
    return [*rows, [sum(r[j] for r in counts) for j in range(width)] + [sum(map(sum, counts))]]


@pytest.mark.parametrize(
    ("count", "shown"), [(0, None), (9, None), (10, 10), (12, 10), (13, 15), (17, 15), (18, 20)]
)
def test_a_count_under_10_is_held_back_and_others_are_rounded_to_5(
    count: int, shown: int | None
) -> None:
    assert primary(count) == shown


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        primary(-1)


def test_a_single_small_cell_takes_the_next_smallest_in_its_row_and_column_with_it() -> None:
    table = suppress_table([[5, 40, 30], [50, 60, 70]])
    assert table.cells == ((None, 40, None), (None, 60, None))
    assert table.row_totals == (75, 180) and table.column_totals == (55, 100, 100)
    assert table.total == 255


def test_shares_are_shown_only_when_both_parts_reach_10() -> None:
    assert share_shown(10, 20) and not share_shown(9, 100) and not share_shown(95, 100)


@given(tables)
def test_no_published_count_is_under_10_or_off_the_multiples_of_5(counts: list[list[int]]) -> None:
    published = grid(suppress_table(counts))
    for line, raw in zip(published, raw_grid(counts), strict=True):
        for shown, value in zip(line, raw, strict=True):
            if value < 10:
                assert shown is None
            if shown is not None:
                assert shown % 5 == 0 and shown >= 10 and abs(shown - value) <= 2


@given(tables)
def test_no_row_or_column_holds_back_exactly_one_value(counts: list[list[int]]) -> None:
    published = grid(suppress_table(counts))
    columns = [list(column) for column in zip(*published, strict=True)]
    for line in [*published, *columns]:
        held = sum(value is None for value in line)
        assert held != 1 or len(line) == 1, line
