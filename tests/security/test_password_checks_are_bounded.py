"""Issue 8, D2: a flood of sign-ins cannot run more argon2 checks at once than the bound."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx
import pytest

from digitalstate.identity.throttle import PasswordWorkBusyError, SignInGuard
from digitalstate.settings import SignInSection
from integration.identity_support import PASSWORD, Federation, csrf_of, sign_in_form
from support.fixtures import ALICE


def test_no_more_than_the_bound_of_password_checks_run_at_once() -> None:
    guard = SignInGuard(SignInSection(password_checks_at_once=2, password_wait_seconds=5))
    inside = most = 0
    release = asyncio.Event()

    async def check() -> None:
        nonlocal inside, most
        async with guard.password_slot():
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1

    async def flood() -> None:
        checks = [asyncio.create_task(check()) for _ in range(6)]
        for _ in range(10):  # let every task run as far as it can (a yield, not a wait)
            await asyncio.sleep(0)
        assert inside == 2  # the other four wait for a slot
        release.set()
        await asyncio.gather(*checks)

    asyncio.run(flood())
    assert most == 2


def test_a_check_that_finds_every_slot_taken_past_the_wait_is_refused() -> None:
    guard = SignInGuard(SignInSection(password_checks_at_once=2, password_wait_seconds=0))

    async def three() -> None:
        async with AsyncExitStack() as held:
            await held.enter_async_context(guard.password_slot())
            await held.enter_async_context(guard.password_slot())
            with pytest.raises(PasswordWorkBusyError):
                await held.enter_async_context(guard.password_slot())
        async with guard.password_slot():  # the slots are given back
            pass

    asyncio.run(three())


def test_a_sign_in_when_every_slot_stays_taken_gets_a_busy_page(
    fed: Federation, alice: str
) -> None:
    guard = fed.charter.app.state.sign_in_guard
    guard.settings = guard.settings.model_copy(update={"password_wait_seconds": 0})
    form = {"csrf_token": csrf_of(fed.charter.get("/sign-in")), "email": ALICE}

    async def while_every_slot_is_taken() -> httpx.Response:
        async with AsyncExitStack() as held:
            for _ in range(guard.settings.password_checks_at_once):
                await held.enter_async_context(guard.password_slot())
            return await fed.charter.client.post("/sign-in", data={**form, "password": PASSWORD})

    answer = fed.charter.loop.run(while_every_slot_is_taken())

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "30"
    assert "Sorry, the service is busy" in answer.text
    assert sign_in_form(fed, email=ALICE, password=PASSWORD).status_code == 303
