"""Where a service's experiments stand in the node's database: running, or stopped with a
winner (services/variants.py says what each shows; ADR 0027).

An experiment is running until staff stop it: it has no row, or a row whose state is
running. Stopping it writes the winning variant, once: every worker reads the same rows, so
from the next request on everyone sees the winner. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from digitalstate.services.models import ServiceExperiment

RUNNING = "running"
STOPPED = "stopped"


class ExperimentStoppedError(ValueError):
    """The experiment was stopped already (by someone else, or a second click)."""

    def __init__(self, winner: str) -> None:
        super().__init__(f"stopped already, with {winner!r} the winner")
        self.winner = winner


@dataclass(frozen=True)
class ExperimentState:
    """An experiment's state: running, or stopped (when, by which staff account, and the winner)."""

    state: str = RUNNING
    winner: str | None = None
    changed_at: datetime | None = None
    changed_by: str | None = None

    @property
    def stopped(self) -> bool:
        """True once staff stopped it."""
        return self.state == STOPPED


def experiment_states(session: Session, slug: str) -> dict[str, ExperimentState]:
    """The states of the experiments of the service slug that have a row, by experiment id
    (an experiment without one is running)."""
    rows = session.scalars(select(ServiceExperiment).where(ServiceExperiment.service == slug))
    return {
        row.experiment: ExperimentState(row.state, row.winner, row.changed_at, row.changed_by)
        for row in rows
    }


def winners(session: Session, slug: str) -> dict[str, str]:
    """The winning variant of each stopped experiment of the service slug, by experiment id."""
    rows = session.execute(
        select(ServiceExperiment.experiment, ServiceExperiment.winner).where(
            ServiceExperiment.service == slug, ServiceExperiment.state == STOPPED
        )
    )
    return {experiment: winner for experiment, winner in rows if winner is not None}


def stop_experiment(
    session: Session, slug: str, experiment: str, winner: str, *, by: str, now: datetime
) -> None:
    """Stop the experiment of the service slug with winner as what everyone sees, once
    (ExperimentStoppedError when it is stopped already). Two stops at one moment at two
    workers: the second's INSERT fails on the primary key (IntegrityError, for the caller)."""
    state = session.get(ServiceExperiment, (slug, experiment), with_for_update=True)
    if state is not None and state.state == STOPPED:
        raise ExperimentStoppedError(state.winner or "")
    if state is not None:
        moved = session.execute(
            update(ServiceExperiment)
            .where(
                ServiceExperiment.service == slug,
                ServiceExperiment.experiment == experiment,
                ServiceExperiment.state == RUNNING,
            )
            .values(state=STOPPED, winner=winner, changed_at=now, changed_by=by)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ExperimentStoppedError(winner)
        return
    session.add(
        ServiceExperiment(
            service=slug,
            experiment=experiment,
            state=STOPPED,
            winner=winner,
            changed_at=now,
            changed_by=by,
        )
    )
    session.flush()
