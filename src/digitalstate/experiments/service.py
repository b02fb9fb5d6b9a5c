"""Experiments' use cases: each variant's figures from the service's events, and stopping an
experiment with its winner, logged as a staff action (docs/experiments.md).

A journey is in a variant when its started event carries it (`service_events.variant`, set
by the journey's pages from services/variants.py); every later event of that journey carries
it too. A satisfaction answer (a `rated` event) is counted for the variant of the journey it
rates, found through the journey's started event. The caller owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from digitalstate.experiments.domain import (
    Difference,
    MeanTime,
    Share,
    compare_shares,
    compare_times,
    mean_time,
    satisfied,
    share,
)
from digitalstate.performance.models import ServiceEventRow
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.variant_state import (
    ExperimentState,
    experiment_states,
    stop_experiment,
)
from digitalstate.services.variants import Experiment, label, running_experiment
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.service import record_staff_action

STOPPED_EXPERIMENT = "staff-stopped-experiment"
RUNNING, STOPPED, WAITING = "running", "stopped", "waiting"


@dataclass(frozen=True)
class VariantFigures:
    """One variant's people and figures."""

    variant: str
    share: int  # the percent of people declared to see it
    started: int
    completion: Share
    satisfaction: Share
    time: MeanTime  # seconds from start to completion


@dataclass(frozen=True)
class VariantComparison:
    """One variant against the control (the first)."""

    variant: str
    completion: Difference
    satisfaction: Difference
    time: Difference


@dataclass(frozen=True)
class ExperimentReport:
    """An experiment's state, its variants' figures and how each compares with the control."""

    slug: str
    experiment: Experiment
    status: str  # running, stopped, or waiting (an earlier experiment of the service runs)
    state: ExperimentState
    figures: list[VariantFigures]
    comparisons: list[VariantComparison]


def experiment_status(
    definition: ServiceDefinition, experiment: Experiment, states: dict[str, ExperimentState]
) -> str:
    """running, stopped, or waiting (declared after the one running)."""
    state = states.get(experiment.id)
    if state is not None and state.stopped:
        return STOPPED
    winners = {key: s.winner or "" for key, s in states.items() if s.stopped}
    running = running_experiment(definition, winners)
    return RUNNING if running is not None and running.id == experiment.id else WAITING


def statuses(session: Session, definition: ServiceDefinition) -> dict[str, str]:
    """The status of each of definition's experiments, by id."""
    states = experiment_states(session, definition.slug)
    return {e.id: experiment_status(definition, e, states) for e in definition.experiments}


def report(
    session: Session, definition: ServiceDefinition, experiment: Experiment
) -> ExperimentReport:
    """The experiment's report, from the service's events (digital journeys only: assisted
    digital journeys are in no experiment)."""
    slug = definition.slug
    labels = {label(experiment, variant): variant.id for variant in experiment.variants}
    started = _started(session, slug, labels)
    completed = _completion_times(session, slug, labels)
    ratings = _ratings(session, slug, labels)
    figures = []
    for variant in experiment.variants:
        times = completed.get(variant.id, [])
        happy, rated = satisfied(ratings.get(variant.id, {}))
        people = started.get(variant.id, 0)
        figures.append(
            VariantFigures(
                variant=variant.id,
                share=variant.share,
                started=people,
                completion=share(min(len(times), people), people),
                satisfaction=share(happy, rated),
                time=mean_time(times),
            )
        )
    control = figures[0]
    comparisons = [
        VariantComparison(
            variant=other.variant,
            completion=compare_shares(control.completion, other.completion),
            satisfaction=compare_shares(control.satisfaction, other.satisfaction),
            time=compare_times(
                completed.get(control.variant, []), completed.get(other.variant, [])
            ),
        )
        for other in figures[1:]
    ]
    states = experiment_states(session, slug)
    status = experiment_status(definition, experiment, states)
    state = states.get(experiment.id, ExperimentState())
    return ExperimentReport(slug, experiment, status, state, figures, comparisons)


def _started(session: Session, slug: str, labels: dict[str, str]) -> dict[str, int]:
    rows = session.execute(
        select(ServiceEventRow.variant, func.count(func.distinct(ServiceEventRow.journey)))
        .where(
            ServiceEventRow.service == slug,
            ServiceEventRow.kind == "started",
            ServiceEventRow.variant.in_(labels),
        )
        .group_by(ServiceEventRow.variant)
    )
    return {labels[variant]: count for variant, count in rows if variant in labels}


def _journeys(slug: str, labels: dict[str, str]) -> Subquery:
    """The journeys started in one of the variants labels, each with its variant."""
    return (
        select(ServiceEventRow.journey, ServiceEventRow.variant)
        .where(
            ServiceEventRow.service == slug,
            ServiceEventRow.kind == "started",
            ServiceEventRow.variant.in_(labels),
        )
        .distinct()
        .subquery()
    )


def _completion_times(
    session: Session, slug: str, labels: dict[str, str]
) -> dict[str, list[float]]:
    """The seconds each completed journey took, by the variant it started in (whatever its
    later events carry: a journey completed after the experiment stopped counts for it)."""
    journeys = _journeys(slug, labels)
    rows = session.execute(
        select(journeys.c.variant, ServiceEventRow.duration_ms)
        .join(journeys, journeys.c.journey == ServiceEventRow.journey)
        .where(ServiceEventRow.service == slug, ServiceEventRow.kind == "completed")
    )
    times: dict[str, list[float]] = defaultdict(list)
    for variant, duration in rows:
        if variant in labels and duration is not None:
            times[labels[variant]].append(duration / 1000)
    return times


def _ratings(session: Session, slug: str, labels: dict[str, str]) -> dict[str, dict[int, int]]:
    """The count of each rating (1 to 5) by the variant of the journey rated."""
    journeys = _journeys(slug, labels)
    rows = session.execute(
        select(journeys.c.variant, ServiceEventRow.value, func.count())
        .join(journeys, journeys.c.journey == ServiceEventRow.journey)
        .where(ServiceEventRow.service == slug, ServiceEventRow.kind == "rated")
        .group_by(journeys.c.variant, ServiceEventRow.value)
    )
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for variant, value, count in rows:
        if variant in labels and value is not None:
            counts[labels[variant]][int(value)] = count
    return counts


def stop(
    session: Session,
    staff: StaffMember,
    definition: ServiceDefinition,
    experiment: Experiment,
    winner: str,
    *,
    holder: str,
    now: datetime,
) -> None:
    """Stop experiment with winner (a variant of it) for everyone, and log it as staff's action
    (ExperimentStoppedError, from services.variant_state, when it is stopped already)."""
    if experiment.variant(winner) is None:
        raise ValueError(f"{winner!r} is not a variant of {experiment.id!r}")
    stop_experiment(session, definition.slug, experiment.id, winner, by=staff.id, now=now)
    record_staff_action(
        session,
        staff,
        STOPPED_EXPERIMENT,
        holder=holder,
        now=now,
        detail=f"{definition.slug} {experiment.id}: {winner} kept",
    )
