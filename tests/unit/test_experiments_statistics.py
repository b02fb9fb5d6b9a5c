"""The experiment page's statistics against values worked out by hand or published."""

from __future__ import annotations

import math

import pytest
from scipy.stats import t as student_t

from digitalstate.experiments.domain import (
    compare_shares,
    compare_times,
    mean_time,
    satisfied,
    share,
)


def wilson(count: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval, from its formula (Wilson 1927)."""
    p = count / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return centre - half, centre + half


@pytest.mark.parametrize(("count", "total"), [(45, 100), (0, 12), (12, 12), (1, 3), (730, 1000)])
def test_a_share_has_the_wilson_interval(count: int, total: int) -> None:
    found = share(count, total)
    assert found.interval is not None and found.value == count / total
    low, high = wilson(count, total)
    assert found.interval.low == pytest.approx(low, abs=1e-9)
    assert found.interval.high == pytest.approx(high, abs=1e-9)
    assert 0 <= found.interval.low <= found.interval.high <= 1


def test_a_share_of_nobody_has_no_value() -> None:
    assert share(0, 0).value is None and share(0, 0).interval is None


def test_the_two_proportion_test_is_the_pooled_z_test() -> None:
    # 50 of 100 against 60 of 100: pooled p 0.55, z = 0.1 / sqrt(0.55 * 0.45 * 0.02) = 1.4213
    found = compare_shares(share(50, 100), share(60, 100))
    z = 0.1 / math.sqrt(0.55 * 0.45 * 0.02)
    assert found.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert found.p_value == pytest.approx(0.1552, abs=1e-4)
    assert not found.significant


def test_more_people_come_from_the_power_analysis() -> None:
    # 50% against 60%: Cohen's h = 2 asin(sqrt(0.6)) - 2 asin(sqrt(0.5)) = 0.2014; with equal
    # groups, n = 2 ((z(0.975) + z(0.8)) / h)^2 = 387.2 a variant: 388, 776 in all, 576 more
    # than the 200 seen.
    h = 2 * math.asin(math.sqrt(0.6)) - 2 * math.asin(math.sqrt(0.5))
    per_variant = math.ceil(2 * ((1.959963984540054 + 0.8416212335729143) / h) ** 2)
    assert per_variant == 388
    found = compare_shares(share(50, 100), share(60, 100))
    assert found.more_people == 2 * per_variant - 200 == 576


def test_a_significant_difference_needs_no_more_people() -> None:
    found = compare_shares(share(500, 1000), share(600, 1000))
    assert found.significant and found.more_people == 0
    assert found.p_value is not None and found.p_value < 1e-5


def test_no_difference_seen_needs_no_number_of_people() -> None:
    found = compare_shares(share(30, 100), share(30, 100))
    assert found.p_value == pytest.approx(1.0) and found.more_people is None


@pytest.mark.parametrize(("a", "b"), [((0, 10), (0, 10)), ((10, 10), (7, 7)), ((0, 0), (3, 5))])
def test_no_test_is_made_where_there_is_nothing_to_test(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    found = compare_shares(share(*a), share(*b))
    assert found.p_value is None and not found.significant and found.more_people is None


def test_the_mean_time_has_the_t_interval() -> None:
    # Mean 25, standard deviation 12.9099, t(3, 0.975) = 3.18245: 25 +- 20.5426
    found = mean_time([10, 20, 30, 40])
    assert found.mean == 25 and found.interval is not None
    assert found.interval.low == pytest.approx(25 - 20.5426, abs=1e-3)
    assert found.interval.high == pytest.approx(25 + 20.5426, abs=1e-3)
    assert mean_time([]).mean is None and mean_time([7]).interval is None


def test_times_are_compared_by_welchs_t_test() -> None:
    # By hand: means 40 and 24, variances 62.5 and 10; standard error sqrt(12.5 + 2); t = 16 /
    # sqrt(14.5) = 4.2018 on Welch-Satterthwaite's 14.5^2 / (12.5^2 / 4 + 2^2 / 4) = 5.248
    # degrees of freedom; p from Student's t distribution (scipy's, not statsmodels').
    a = [30.0, 35.0, 40.0, 45.0, 50.0]
    b = [20.0, 22.0, 24.0, 26.0, 28.0]
    found = compare_times(a, b)
    t, df = 16 / math.sqrt(14.5), 14.5**2 / (12.5**2 / 4 + 2**2 / 4)
    assert found.significant
    assert found.p_value == pytest.approx(2 * student_t.sf(t, df), rel=1e-9)
    slower = compare_times(a, [31.0, 36.0, 41.0, 46.0, 51.0])
    assert not slower.significant and slower.more_people is not None
    assert slower.more_people > 100


def test_satisfaction_is_the_share_of_four_and_five() -> None:
    assert satisfied({1: 2, 2: 1, 3: 4, 4: 6, 5: 7}) == (13, 20)
    assert satisfied({}) == (0, 0)
