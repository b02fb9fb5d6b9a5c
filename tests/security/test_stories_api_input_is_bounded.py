"""The stories API's query is outside input (DESIGN §10): whatever it holds, it parses into
filters within bounds or is refused as `malformed-request`, never anything else; and a held
status is never a filter anyone may ask for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitalstate.feedback.api import MAX_QUERY_VALUE, QUERY_NAMES, parse_query
from digitalstate.feedback.published import MAX_PAGE
from digitalstate.problems import Problem

NAMES = st.one_of(st.sampled_from(sorted(QUERY_NAMES)), st.text(max_size=50))
VALUES = st.one_of(
    st.text(max_size=200),
    st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True),
    st.integers(-5, MAX_PAGE + 5).map(str),
    st.sampled_from(["published", "held", "rejected", "none", "planned", "made", "staff"]),
)


@given(st.dictionaries(NAMES, st.lists(VALUES, min_size=1, max_size=3), max_size=8))
def test_any_query_is_filters_within_bounds_or_malformed_request(
    query: dict[str, list[str]],
) -> None:
    try:
        filters = parse_query(query)
    except Problem as refused:
        assert refused.slug == "malformed-request" and refused.status == 400
        assert len(refused.detail) < 300
        return
    assert 1 <= filters.page <= MAX_PAGE
    for value in (filters.service, filters.node, filters.tag):
        assert value is None or len(value) <= MAX_QUERY_VALUE
    if filters.since is not None and filters.until is not None:
        assert filters.since < filters.until
    assert query.get("status", ["published"]) == ["published"]


@pytest.mark.parametrize("status", ["held", "rejected", "HELD", "published,held", ""])
def test_no_status_but_published_is_ever_a_filter(status: str) -> None:
    with pytest.raises(Problem) as refused:
        parse_query({"status": [status]})
    assert "only published stories are public" in refused.value.detail
