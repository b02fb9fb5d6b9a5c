"""A burst sent at once from one client, to several workers, passes no flood limit: feedback's
submissions and the sign-in locks count, then add a row, one transaction of a key at a time
(storage/locks.py). Each request runs in a thread with its own session, as in separate workers;
each holds its transaction open until all have counted (or a moment has passed, when they
wait for each other), so that without the lock every one of them would count the others' rows
as not there yet."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digitalstate.feedback.models import FeedbackSubmission
from digitalstate.feedback.service import take_submission
from digitalstate.identity.models import SignInAttempt
from digitalstate.identity.throttle import SignInGuard, attempt_sign_in, person_with
from digitalstate.settings import SignInSection
from digitalstate.storage.engine import make_engine, make_sessions

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
BURST = 6
HOLD_SECONDS = 1.5  # how long a request waits for the others before it commits alone


def at_once(work: Callable[[], object]) -> list[object]:
    """What work returned in each of BURST threads started together."""
    start = threading.Barrier(BURST)
    answers: list[object] = []

    def run() -> None:
        start.wait(timeout=10)
        answers.append(work())

    threads = [threading.Thread(target=run) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == BURST
    return answers


def hold(counted: threading.Barrier) -> None:
    """Wait until every request has counted, or HOLD_SECONDS (they are waiting for this one)."""
    with contextlib.suppress(threading.BrokenBarrierError):
        counted.wait(timeout=HOLD_SECONDS)


def test_a_burst_of_submissions_from_one_client_passes_no_more_than_the_limit(
    migrated_database_url: str,
) -> None:
    engine = make_engine(migrated_database_url)
    sessions = make_sessions(engine)
    counted = threading.Barrier(BURST)

    def submit() -> bool:
        with sessions.begin() as db:
            taken = take_submission(db, "192.0.2.7", limit=2, window=timedelta(hours=1), now=NOW)
            hold(counted)
            return taken

    try:
        answers = at_once(submit)
        assert sorted(answers, key=bool) == [False] * (BURST - 2) + [True] * 2
        with sessions.begin() as db:
            assert db.scalar(select(func.count()).select_from(FeedbackSubmission)) == 2
    finally:
        engine.dispose()


def test_a_burst_of_guesses_checks_no_more_passwords_than_the_allowance(
    migrated_database_url: str,
) -> None:
    engine = make_engine(migrated_database_url)
    sessions = make_sessions(engine)
    settings = SignInSection(account_failures=2, client_failures=50, password_wait_seconds=30)
    counted = threading.Barrier(BURST)
    checked: list[str] = []

    def verify(session: Session, email: str, password: str) -> str | None:
        checked.append(email)
        hold(counted)
        return person_with(session, email, password)

    def guess() -> object:
        guard = SignInGuard(settings, clock=lambda: NOW)  # one per worker, as in production
        return asyncio.run(
            attempt_sign_in(guard, sessions, "nobody@example.org", "guess", "192.0.2.7", verify)
        )

    try:
        answers = at_once(guess)
        assert len(checked) == 2
        assert sum(1 for a in answers if getattr(a, "locked_until", None)) == BURST - 2
        with sessions.begin() as db:
            assert db.scalar(select(func.count()).select_from(SignInAttempt)) == 2
    finally:
        engine.dispose()


def test_a_guess_whose_check_never_ends_counts_as_a_failure(migrated_database_url: str) -> None:
    """The attempt is kept as failed before its password is checked: a worker stopped in the
    middle of the check (here the check raising) leaves a failure, so stopping workers on
    purpose does not buy an attacker guesses past the lock."""
    engine = make_engine(migrated_database_url)
    sessions = make_sessions(engine)
    guard = SignInGuard(SignInSection(account_failures=2), clock=lambda: NOW)

    def stopped(_session: Session, _email: str, _password: str) -> str | None:
        raise RuntimeError("the worker stopped in the middle of the check")

    def guess() -> object:
        return asyncio.run(
            attempt_sign_in(guard, sessions, "ann@example.org", "guess", "192.0.2.8", stopped)
        )

    try:
        for _ in range(2):
            with contextlib.suppress(RuntimeError):
                guess()
        assert getattr(guess(), "locked_until", None) is not None
        with sessions.begin() as db:
            assert db.scalar(select(func.count()).where(SignInAttempt.succeeded.is_(False))) == 2
    finally:
        engine.dispose()
