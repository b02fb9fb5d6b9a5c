"""A background step is retried while the database is busy, and only then."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.storage.retrying import STEP_ATTEMPTS, is_busy, run_step


@pytest.fixture
def sessions() -> Iterator[sessionmaker[Session]]:
    engine = create_engine("sqlite://")
    try:
        yield sessionmaker(engine)
    finally:
        engine.dispose()


def busy(message: str = "database is locked") -> OperationalError:
    return OperationalError("UPDATE outbox ...", {}, Exception(message))


class Step:
    """A step that fails with the given errors first, then answers 42."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, session: Session) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return 42


def run(sessions: sessionmaker[Session], step: Step, slept: list[float]) -> Any:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return asyncio.run(run_step(sessions, step, sleep=sleep))


def test_a_locked_database_is_retried_with_growing_sleeps(
    sessions: sessionmaker[Session],
) -> None:
    slept: list[float] = []
    step = Step(busy(), busy("database is busy"))
    assert run(sessions, step, slept) == 42
    assert step.calls == 3
    assert slept == [0.05, 0.1]


def test_a_postgresql_deadlock_is_retried(sessions: sessionmaker[Session]) -> None:
    slept: list[float] = []
    assert run(sessions, Step(busy("deadlock detected")), slept) == 42
    assert len(slept) == 1


def test_the_retries_are_bounded_and_the_last_error_is_raised(
    sessions: sessionmaker[Session],
) -> None:
    slept: list[float] = []
    step = Step(*[busy() for _ in range(STEP_ATTEMPTS)])
    with pytest.raises(OperationalError, match="database is locked"):
        run(sessions, step, slept)
    assert step.calls == STEP_ATTEMPTS
    assert len(slept) == STEP_ATTEMPTS - 1


def test_other_database_errors_are_not_retried(sessions: sessionmaker[Session]) -> None:
    slept: list[float] = []
    step = Step(OperationalError("SELECT", {}, Exception("no such table: outbox")))
    with pytest.raises(OperationalError, match="no such table"):
        run(sessions, step, slept)
    integrity = Step(IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")))
    with pytest.raises(IntegrityError):
        run(sessions, integrity, slept)
    assert step.calls == integrity.calls == 1
    assert slept == []


def test_busy_is_told_apart_from_broken() -> None:
    assert is_busy(busy())
    assert is_busy(busy("could not serialize access due to concurrent update"))
    assert not is_busy(OperationalError("x", {}, Exception("disk I/O error")))
