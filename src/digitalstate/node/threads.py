"""Blocking work of background tasks, run in a thread that a cancellation waits for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def finish_in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run function(*args) in a thread; when cancelled, wait for it to finish before giving up.

    A thread cannot be stopped. Background tasks are cancelled when the node stops, just
    before its engine is disposed: a thread still inside a transaction would otherwise keep a
    connection the engine no longer knows, and leak it.
    """
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise
