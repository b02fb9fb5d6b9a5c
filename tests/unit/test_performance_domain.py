"""Service events as the domain checks them (performance/domain.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.performance.domain import (
    EVENT_KINDS,
    ServiceEvent,
    ServiceEventError,
    duration_ms,
)

AT = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def event(**changes: Any) -> ServiceEvent:
    return ServiceEvent(**({"service": "apply-for-a-bus-pass", "kind": "page", "at": AT} | changes))


def test_an_event_takes_the_defaults_of_a_digital_journey() -> None:
    made = event(journey="0" * 32, page="name")
    assert made.channel == "digital" and made.variant is None
    assert made.duration_ms is None and made.value is None


@pytest.mark.parametrize("value", [1, 3, 5])
def test_a_rating_takes_a_value_from_1_to_5(value: int) -> None:
    assert event(kind="rated", value=value).value == value


@pytest.mark.parametrize("value", [None, 0, 6, -1])
def test_a_rating_without_a_value_from_1_to_5_is_refused(value: int | None) -> None:
    with pytest.raises(ServiceEventError, match="a rating's value is 1 to 5"):
        event(kind="rated", value=value)


@pytest.mark.parametrize("kind", [k for k in EVENT_KINDS if k != "rated"])
def test_only_a_rating_has_a_value(kind: str) -> None:
    with pytest.raises(ServiceEventError, match="only a rating has a value"):
        event(kind=kind, value=4)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"kind": "viewed"}, "kind must be one of"),
        ({"channel": "phone"}, "channel must be one of"),
        ({"service": ""}, "service must be a slug"),
        ({"service": "s" * 64}, "service must be a slug"),
        ({"journey": "j" * 33}, "journey must be 1 to 32"),
        ({"page": ""}, "page must be 1 to 63"),
        ({"variant": "v" * 64}, "variant must be 1 to 63"),
        ({"at": datetime(2026, 3, 4, 10, 0)}, "at must carry its UTC offset"),
        ({"kind": "page", "duration_ms": 10}, "only an end point"),
        ({"kind": "left", "duration_ms": -1}, "never negative"),
    ],
)
def test_an_event_that_cannot_be_recorded_says_why(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ServiceEventError, match=problem):
        event(**changes)


@pytest.mark.parametrize("kind", ["completed", "refused", "left"])
def test_an_end_point_carries_its_duration(kind: str) -> None:
    assert event(kind=kind, duration_ms=1234).duration_ms == 1234


@given(st.integers(min_value=0, max_value=10**9))
def test_a_duration_is_the_milliseconds_between_start_and_end(ms: int) -> None:
    assert duration_ms(AT, AT + timedelta(milliseconds=ms)) == ms


def test_a_duration_is_unknown_without_a_start_and_never_negative() -> None:
    assert duration_ms(None, AT) is None
    assert duration_ms(AT, AT - timedelta(seconds=2)) == 0
