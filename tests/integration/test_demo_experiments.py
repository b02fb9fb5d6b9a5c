"""The demo's synthetic journeys of its running experiment (demo/experiments.py), on SQLite
and PostgreSQL: the same by seed, written once, and giving the staff page real figures."""

from __future__ import annotations

from datetime import UTC, datetime

from digitalstate.demo.experiments import JOURNEYS, experiment_journeys, seed_experiment_journeys
from digitalstate.demo.federation import DEMO_SERVICES
from digitalstate.experiments.service import report
from digitalstate.services.definitions import read_definition
from digitalstate.storage.engine import make_engine, make_sessions

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
CARE = read_definition(DEMO_SERVICES / "ask-for-a-care-assessment.toml")


def test_one_seed_gives_the_same_journeys_and_another_seed_others() -> None:
    [experiment] = CARE.experiments
    first = list(experiment_journeys(CARE, experiment, seed=7, now=NOW))
    assert first == list(experiment_journeys(CARE, experiment, seed=7, now=NOW))
    assert first != list(experiment_journeys(CARE, experiment, seed=8, now=NOW))
    started = [e for e in first if e.kind == "started"]
    assert len(started) == JOURNEYS
    assert {e.variant for e in started} == {"more-examples:as-now", "more-examples:examples"}
    assert all(e.at <= NOW for e in first)


def test_the_journeys_are_written_once_and_the_page_has_figures(
    migrated_database_url: str,
) -> None:
    engine = make_engine(migrated_database_url)
    sessions = make_sessions(engine)
    try:
        with sessions.begin() as session:
            written = seed_experiment_journeys(session, CARE, seed=7, now=NOW)
        with sessions.begin() as session:
            assert seed_experiment_journeys(session, CARE, seed=7, now=NOW) == 0
            made = report(session, CARE, CARE.experiments[0])
    finally:
        engine.dispose()
    assert written > JOURNEYS
    assert made.status == "running"
    assert sum(f.started for f in made.figures) == JOURNEYS
    for figures in made.figures:
        assert figures.completion.interval is not None
        assert figures.satisfaction.total > 0 and figures.satisfaction.interval is not None
        assert figures.time.mean is not None and figures.time.interval is not None
    [comparison] = made.comparisons
    assert comparison.completion.p_value is not None
