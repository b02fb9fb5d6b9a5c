"""Bar charts as SVG geometry, for the dashboards' server-rendered charts (pure).

A chart is drawn by its template (performance/_chart.html) from what this computes: the bars'
rectangles, the axis' ticks and each bar's label. A value held back or missing draws no bar,
and its label says why; every chart is followed by its data table and a text summary, which
say the same in words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 240
LEFT, BOTTOM, TOP, RIGHT = 48, 28, 12, 8


@dataclass(frozen=True)
class Bar:
    """One bar: where it is drawn, its category's label and its value as text."""

    x: float
    y: float
    width: float
    height: float
    label: str
    text: str
    series: int  # which series (colour) it belongs to


@dataclass(frozen=True)
class Tick:
    """A line across the chart at a value, with the value as text."""

    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A bar chart's geometry, in a WIDTH by HEIGHT view box."""

    bars: list[Bar]
    ticks: list[Tick]
    labels: list[tuple[float, str]]  # each category's label and the x of its middle
    width: int = WIDTH
    height: int = HEIGHT
    base: float = HEIGHT - BOTTOM


def nice_top(value: float) -> float:
    """The smallest round number (1, 2 or 5 times a power of ten) at least value."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Sequence[float | None]],
    *,
    top: float | None = None,
    unit: str = "",
) -> Chart:
    """Grouped bars: for each label, one bar of each series (None: no bar)."""
    values = [v for values in series for v in values if v is not None]
    top = top or nice_top(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    width = slot * 0.8 / max(len(series), 1)
    bars = []
    for s, row in enumerate(series):
        for i, value in enumerate(row):
            if value is None:
                continue
            height = plot_h * min(value, top) / top
            x = LEFT + i * slot + slot * 0.1 + s * width
            text = f"{value:g}{unit}"
            bars.append(Bar(x, TOP + plot_h - height, width, height, labels[i], text, s))
    ticks = [Tick(TOP + plot_h * (1 - k / 4), f"{top * k / 4:g}{unit}") for k in range(5)]
    middles = [(LEFT + (i + 0.5) * slot, label) for i, label in enumerate(labels)]
    return Chart(bars, ticks, middles)
