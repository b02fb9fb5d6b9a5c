"""The statistics of an experiment: each variant's figures with confidence intervals, and how
each compares with the control (ADR 0027).

Plain functions of counts and durations, computed with statsmodels:

- a share (completion rate, satisfaction) with its 95% Wilson score interval
  (`proportion_confint(method="wilson")`), which stays within 0 to 1 and is sound for small
  counts and shares near 0 or 1, where the textbook (Wald) interval is not;
- the mean time to complete with its 95% t interval (`DescrStatsW.tconfint_mean`);
- a variant against the control: a two-sided two-proportion z test (`proportions_ztest`) for
  shares, Welch's t test (`CompareMeans.ttest_ind(usevar="unequal")`) for times, significant
  when p < 0.05;
- while a difference is not significant, how many more people would show a difference of the
  size seen, at 5% significance with 80% power (`NormalIndPower` on Cohen's h for shares,
  `TTestIndPower` on Cohen's d for times), people joining the variants in the proportions they
  join now.

statsmodels (and SciPy under it) is imported by each function when it is first called, not
with this module: the import costs a process about a second of CPU, which every node process,
worker and CLI command paid at start, though only an experiment's pages compute figures.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from statsmodels.stats.power import NormalIndPower, TTestIndPower

ALPHA = 0.05  # significance, and 95% intervals
POWER = 0.8
SATISFIED = (4, 5)  # satisfied, very satisfied: the service standard's user satisfaction
MAX_PEOPLE = 10_000_000  # a difference needing more is, in practice, no difference


@dataclass(frozen=True)
class Interval:
    """A 95% confidence interval."""

    low: float
    high: float


@dataclass(frozen=True)
class Share:
    """count of total, as a share with its interval (None for either when total is 0)."""

    count: int
    total: int
    value: float | None
    interval: Interval | None


@dataclass(frozen=True)
class MeanTime:
    """The mean of n times (seconds) with its interval (None with fewer than 2 times)."""

    n: int
    mean: float | None
    interval: Interval | None


@dataclass(frozen=True)
class Difference:
    """A variant against the control on one figure.

    p_value: None when no test can be made (no people on one side, or no spread at all);
    more_people: while not significant, how many more people in all (across the two) would
    show a difference of the size seen; None when no difference is seen, or it would take
    more than MAX_PEOPLE.
    """

    p_value: float | None
    significant: bool
    more_people: int | None


def share(count: int, total: int) -> Share:
    """count of total with its Wilson interval."""
    if total <= 0:
        return Share(count, total, None, None)
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, total, alpha=ALPHA, method="wilson")
    return Share(count, total, count / total, Interval(float(low), float(high)))


def mean_time(seconds: Sequence[float]) -> MeanTime:
    """The mean of seconds with its t interval."""
    n = len(seconds)
    if n < 2:
        return MeanTime(n, float(seconds[0]) if n else None, None)
    from statsmodels.stats.weightstats import DescrStatsW

    stats = DescrStatsW(list(seconds))
    if stats.std == 0:
        return MeanTime(n, float(stats.mean), Interval(float(stats.mean), float(stats.mean)))
    low, high = stats.tconfint_mean(alpha=ALPHA)
    return MeanTime(n, float(stats.mean), Interval(float(low), float(high)))


def compare_shares(control: Share, variant: Share) -> Difference:
    """variant's share against control's: the z test, and the people still needed."""
    if not control.total or not variant.total:
        return Difference(None, False, None)
    pooled = (control.count + variant.count) / (control.total + variant.total)
    if pooled in (0.0, 1.0):  # nobody, or everybody, on both sides: nothing to test
        return Difference(None, False, None)
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

    _, p = proportions_ztest(
        [variant.count, control.count], [variant.total, control.total], alternative="two-sided"
    )
    p_value = float(p)
    if p_value < ALPHA:
        return Difference(p_value, True, 0)
    effect = abs(float(proportion_effectsize(variant.value, control.value)))
    more = _more_people(NormalIndPower(), effect, control.total, variant.total)
    return Difference(p_value, False, more)


def compare_times(control: Sequence[float], variant: Sequence[float]) -> Difference:
    """variant's times against control's: Welch's t test, and the people still needed."""
    if len(control) < 2 or len(variant) < 2:
        return Difference(None, False, None)
    from statsmodels.stats.power import TTestIndPower
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    a, b = DescrStatsW(list(variant)), DescrStatsW(list(control))
    if a.std == 0 and b.std == 0:
        return Difference(None, False, None)
    _, p, _ = CompareMeans(a, b).ttest_ind(usevar="unequal")
    p_value = float(p)
    if p_value < ALPHA:
        return Difference(p_value, True, 0)
    spread = math.sqrt((a.var * (a.nobs - 1) + b.var * (b.nobs - 1)) / (a.nobs + b.nobs - 2))
    effect = abs(float(a.mean - b.mean)) / spread if spread else 0.0
    more = _more_people(TTestIndPower(), effect, len(control), len(variant))
    return Difference(p_value, False, more)


def _more_people(
    analysis: NormalIndPower | TTestIndPower, effect: float, control: int, variant: int
) -> int | None:
    """How many more people in all would show a difference of size effect (Cohen's h or d)
    at ALPHA with POWER, people joining the two in the ratio they have so far."""
    if effect <= 0 or not math.isfinite(effect):
        return None
    ratio = variant / control
    with warnings.catch_warnings():
        # statsmodels' solver warns when it has to fall back on another method; the answer
        # is still checked below.
        warnings.simplefilter("ignore")
        needed = analysis.solve_power(
            effect_size=effect, alpha=ALPHA, power=POWER, ratio=ratio, alternative="two-sided"
        )
    needed_control = float(needed)
    if not math.isfinite(needed_control):
        return None
    in_all = math.ceil(needed_control) + math.ceil(needed_control * ratio)
    more = max(0, in_all - control - variant)
    return more if in_all <= MAX_PEOPLE else None


def satisfied(ratings: dict[int, int]) -> tuple[int, int]:
    """(satisfied, rated) of a count of ratings 1 to 5 by value."""
    rated = sum(ratings.values())
    return sum(ratings.get(value, 0) for value in SATISFIED), rated
