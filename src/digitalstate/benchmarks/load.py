"""The calling node's load generator: signed and bare round trips against a peer node.

Runs as its own process with the calling node's settings and key, using the node's own
ExchangeClient, so a signed round trip here is exactly a node-to-node call: sign the request,
send it, verify the response's signature and its binding to the request.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from digitalstate.exchange.client import ExchangeClient, ExchangeError
from digitalstate.federation.domain import verify_document
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.settings import load_node_settings


def _report(done: int, total: int) -> None:
    """Tell the parent how far the run is (a line on standard error)."""
    print(f"progress {done} {total}", file=sys.stderr, flush=True)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value at fraction (0..1) of a sorted list, nearest rank."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def _phase(call: Any, seconds: float, connections: int) -> tuple[int, int, list[float]]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                ok = await call()
            except (ExchangeError, aiohttp.ClientError, OSError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return int(len(latencies) / elapsed), errors, latencies


async def run(
    config: Path, peer: str, seconds: float, connections: int, rounds: int
) -> dict[str, Any]:
    """Alternate bare and signed phases against peer; return the measured figures."""
    settings = load_node_settings(config)
    key = KeyPair.load(settings.key_path)
    anchor = PublicKey.from_b64(settings.federation.anchor_public_key)
    async with (
        aiohttp.ClientSession() as http,
        http.get(settings.federation.anchor_url + "/.well-known/digitalstate/federation") as r,
    ):
        envelope = json.loads(await r.read())
    from datetime import UTC, datetime

    document = verify_document(envelope, anchor, now=datetime.now(UTC))
    member = document.member(peer)
    assert member is not None, f"{peer} is not a member"
    client = ExchangeClient(settings.node.id, key, lambda: document, connections=connections)
    bare_url = member.base_url + "/bench/unsigned/services"
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    bare_http = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))

    async def signed_call() -> bool:
        response = await client.call(peer, "GET", "/exchange/v1/services")
        return response.status == 200

    async def bare_call() -> bool:
        async with bare_http.get(bare_url) as response:
            await response.read()
            return response.status == 200

    # Warm both pools so that connection set-up is not measured.
    await _phase(signed_call, 0.3, connections)
    await _phase(bare_call, 0.3, connections)
    phases = 2 * rounds
    done = 0
    _report(done, phases)
    signed: list[float] = []
    bare: list[float] = []
    counts: dict[str, float] = {"signed": 0, "bare": 0, "signed_errors": 0, "bare_errors": 0}
    per_phase = seconds / rounds
    for _ in range(rounds):
        for name, call, sink in (("bare", bare_call, bare), ("signed", signed_call, signed)):
            began = time.perf_counter()
            _rps, errors, latencies = await _phase(call, per_phase, connections)
            counts[name] += len(latencies)
            counts[f"{name}_errors"] += errors
            counts[f"{name}_time"] = counts.get(f"{name}_time", 0) + (time.perf_counter() - began)
            sink.extend(latencies)
            done += 1
            _report(done, phases)
    await bare_http.close()
    await client.close()
    signed.sort()
    bare.sort()
    signed_rps = counts["signed"] / counts["signed_time"]
    bare_rps = counts["bare"] / counts["bare_time"]
    return {
        "signed_rps": round(signed_rps, 1),
        "bare_rps": round(bare_rps, 1),
        "overhead_ratio": round(bare_rps / signed_rps, 3) if signed_rps else None,
        "p50_ms": round(percentile(signed, 0.50) * 1000, 3),
        "p99_ms": round(percentile(signed, 0.99) * 1000, 3),
        "bare_p50_ms": round(percentile(bare, 0.50) * 1000, 3),
        "bare_p99_ms": round(percentile(bare, 0.99) * 1000, 3),
        "signed_requests": counts["signed"],
        "bare_requests": counts["bare"],
        "errors": counts["signed_errors"] + counts["bare_errors"],
        "connections": connections,
        "seconds": seconds,
    }


def main() -> None:
    """python -m digitalstate.benchmarks.load CONFIG PEER SECONDS CONNECTIONS ROUNDS"""
    import uvloop

    config, peer, seconds, connections, rounds = sys.argv[1:6]
    result = uvloop.run(run(Path(config), peer, float(seconds), int(connections), int(rounds)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
