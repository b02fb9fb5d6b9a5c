"""Free loopback ports for the processes a benchmark starts."""

from __future__ import annotations

import random
import socket

HOST = "127.0.0.1"
PORTS_LOW, PORTS_HIGH = 20_000, 30_000  # below the kernel's usual ephemeral range


def free_port() -> int:
    """One loopback port the kernel says is free now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def free_port_block(count: int) -> int:
    """The first of count consecutive loopback ports that can all be bound now."""
    rng = random.Random()  # noqa: S311 - not a secret
    for _ in range(200):
        base = rng.randrange(PORTS_LOW, PORTS_HIGH - count)
        if all(_bindable(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no block of {count} free loopback ports found")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True
