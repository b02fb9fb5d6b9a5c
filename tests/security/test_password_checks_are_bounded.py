"""Issue 8, D2: a flood of sign-ins cannot run more argon2 checks at once than the bound."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest

from digitalstate.identity.throttle import PasswordWorkBusyError, SignInGuard
from digitalstate.settings import SignInSection
from integration.identity_support import PASSWORD, Federation
from integration.test_identity_charter_pages import ALICE, sign_in_form


def test_no_more_than_the_bound_of_password_checks_run_at_once() -> None:
    guard = SignInGuard(SignInSection(password_checks_at_once=2, password_wait_seconds=5))
    inside, most, lock = 0, 0, threading.Lock()
    release = threading.Event()
    entered = threading.Semaphore(0)

    def check() -> None:
        nonlocal inside, most
        try:
            with guard.password_slot():
                with lock:
                    inside += 1
                    most = max(most, inside)
                entered.release()
                release.wait()
                with lock:
                    inside -= 1
        except PasswordWorkBusyError:
            entered.release()

    threads = [threading.Thread(target=check) for _ in range(6)]
    for thread in threads:
        thread.start()
    entered.acquire()
    entered.acquire()  # two are inside; the other four wait for a slot
    release.set()
    for thread in threads:
        thread.join()
    assert most == 2


def test_a_check_that_finds_every_slot_taken_past_the_wait_is_refused() -> None:
    guard = SignInGuard(SignInSection(password_checks_at_once=2, password_wait_seconds=0))
    with ExitStack() as held:
        held.enter_context(guard.password_slot())
        held.enter_context(guard.password_slot())
        with pytest.raises(PasswordWorkBusyError), guard.password_slot():
            pass
    with guard.password_slot():  # the slots are given back
        pass


def test_a_sign_in_when_every_slot_stays_taken_gets_a_busy_page(
    fed: Federation, alice: str
) -> None:
    guard = fed.charter.app.state.sign_in_guard
    guard.settings = guard.settings.model_copy(update={"password_wait_seconds": 0})
    with ExitStack() as held:
        for _ in range(guard.settings.password_checks_at_once):
            held.enter_context(guard.password_slot())
        answer = sign_in_form(fed, email=ALICE, password=PASSWORD)

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    assert "Sorry, the service is busy" in answer.text
    assert sign_in_form(fed, email=ALICE, password=PASSWORD).status_code == 303
