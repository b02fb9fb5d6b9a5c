"""Blocking work (database work above all) run from async code: the one way, in a thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")


async def run_blocking(
    function: Callable[..., T], *args: Any, limiter: CapacityLimiter | None = None
) -> T:
    """Run function(*args) in a worker thread; when cancelled, wait for it to finish first.

    A thread cannot be stopped. Background tasks are cancelled when the node stops, just
    before its engine is disposed: a thread still inside a transaction would otherwise keep a
    connection the engine no longer knows, and leak it. A route whose client went away
    likewise returns only once its transaction has committed or rolled back.

    limiter bounds how many threads of one kind run at once (the register's reads: as many as
    the connection pool holds); without one, anyio's default limiter, which Starlette's thread
    pool shares, bounds them. Pass keyword arguments with functools.partial.
    """
    work = asyncio.ensure_future(anyio.to_thread.run_sync(function, *args, limiter=limiter))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise
