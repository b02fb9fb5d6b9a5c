"""run_blocking: blocking work in a thread that a cancellation waits for, bounded when asked."""

from __future__ import annotations

import asyncio
import threading
import time

import anyio
import pytest

from digitalstate.storage.threads import run_blocking


def test_the_work_runs_in_another_thread_and_its_answer_comes_back() -> None:
    async def main() -> tuple[int, int]:
        return await run_blocking(lambda a, b: (a + b, threading.get_ident()), 40, 2)

    total, thread = asyncio.run(main())
    assert total == 42
    assert thread != threading.get_ident()


def test_an_error_in_the_work_reaches_the_caller() -> None:
    def fail() -> None:
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        asyncio.run(run_blocking(fail))


def test_a_cancelled_caller_returns_only_once_the_work_has_finished() -> None:
    started, finished = threading.Event(), threading.Event()

    def commit() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    async def main() -> bool:
        task = asyncio.ensure_future(run_blocking(commit))
        await asyncio.to_thread(started.wait)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(main()), "the cancellation gave up before the thread finished"


def test_a_limiter_bounds_how_many_run_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def read() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async def main() -> None:
        limiter = anyio.CapacityLimiter(2)
        await asyncio.gather(*(run_blocking(read, limiter=limiter) for _ in range(8)))

    asyncio.run(main())
    assert 0 < most <= 2
