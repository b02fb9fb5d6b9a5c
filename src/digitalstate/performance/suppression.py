"""Small-number suppression of everything a node publishes about its services (pure).

The rule, stated on every page and dataset (RULE): a count under 10 is not shown; every
other count is rounded to the nearest 5; and where a row or column of a table has a total,
more cells are held back so that no count held back can be worked out from the total and the
counts shown (secondary suppression). A share (a rate) is shown only when both of its parts,
the people it counts and the others, could be shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from digitalstate.web.i18n import N_

THRESHOLD = 10
ROUNDING = 5
RULE = N_(
    "Counts under 10 are not shown, and other counts are rounded to the nearest 5. Where a "
    "row or column has a total, other counts are held back too, so that no count held back "
    "can be worked out from the totals. A percentage is shown only when both the people it "
    "counts and the others number at least 10."
)

Shown = int | None  # None: held back


def primary(count: int) -> Shown:
    """count as published on its own: None under the threshold, else rounded to ROUNDING."""
    if count < 0:
        raise ValueError(f"a count is never negative: {count}")
    if count < THRESHOLD:
        return None
    return ROUNDING * round(count / ROUNDING)


def share_shown(part: int, whole: int) -> bool:
    """True when part of whole may be published as a share: part and the rest both reach the
    threshold (otherwise the share and a published whole give the small count back)."""
    return part >= THRESHOLD and whole - part >= THRESHOLD


@dataclass(frozen=True)
class SuppressedTable:
    """A table of counts as published: cells by row and column, each row's and column's total
    and the grand total, every value rounded or None (held back)."""

    cells: tuple[tuple[Shown, ...], ...]
    row_totals: tuple[Shown, ...]
    column_totals: tuple[Shown, ...]
    total: Shown


def suppress_table(counts: Sequence[Sequence[int]]) -> SuppressedTable:
    """counts (rows of equal length) with totals, suppressed by the rule: primary suppression,
    then, while a row or column (with its total) holds exactly one value held back, the
    smallest value shown in it is held back too (a cell before a total)."""
    rows = [list(row) for row in counts]
    width = len(rows[0]) if rows else 0
    if any(len(row) != width for row in rows):
        raise ValueError("every row of a table has the same number of cells")
    # The grid with its totals: rows, then the column totals; each row ends with its total.
    grid = [[*row, sum(row)] for row in rows]
    grid.append([sum(row[j] for row in rows) for j in range(width)] + [sum(map(sum, rows))])
    hidden = [[primary(value) is None for value in line] for line in grid]
    lines = [[(i, j) for j in range(width + 1)] for i in range(len(grid))]
    lines += [[(i, j) for i in range(len(grid))] for j in range(width + 1)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            held = [cell for cell in line if hidden[cell[0]][cell[1]]]
            if len(held) != 1:
                continue
            shown = [cell for cell in line if not hidden[cell[0]][cell[1]]]
            if not shown:
                continue
            i, j = min(shown, key=lambda c: (_is_total(c, grid, width), grid[c[0]][c[1]], c))
            hidden[i][j] = True
            changed = True
    published = [
        [None if hidden[i][j] else primary(grid[i][j]) for j in range(width + 1)]
        for i in range(len(grid))
    ]
    body = published[:-1]
    return SuppressedTable(
        cells=tuple(tuple(line[:-1]) for line in body),
        row_totals=tuple(line[-1] for line in body),
        column_totals=tuple(published[-1][:-1]),
        total=published[-1][-1],
    )


def _is_total(cell: tuple[int, int], grid: list[list[int]], width: int) -> bool:
    return cell[0] == len(grid) - 1 or cell[1] == width
