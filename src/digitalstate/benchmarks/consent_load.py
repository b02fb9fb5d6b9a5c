"""The requester's load process for `bench consent`: consented reads against bare reads.

Runs as its own process with the requesting node's settings and key, using the node's own
ExchangeClient: a consented read here is exactly a node-to-node call (signed request, the
holder's signature, consent and access record path, signed response, verified). A bare read
asks the holder's bench mirror for the same record with the same query and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from digitalstate.benchmarks.consent_fill import (
    FIELDS,
    HOLDER,
    PURPOSE,
    consent_id,
    person_pseudonym,
)
from digitalstate.benchmarks.load import percentile
from digitalstate.exchange.client import ExchangeClient, ExchangeError
from digitalstate.federation.domain import verify_document
from digitalstate.keys import KeyPair, PublicKey
from digitalstate.settings import load_node_settings

Call = Callable[[], Awaitable[bool]]


def _report(done: int, total: int) -> None:
    print(f"progress {done} {total}", file=sys.stderr, flush=True)


async def _phase(call: Call, seconds: float, connections: int) -> tuple[int, list[float]]:
    """Run call from connections workers for seconds; return errors and latencies."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                ok = await call()
            except (ExchangeError, aiohttp.ClientError, OSError) as exc:
                print(f"error {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                ok = False
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    return errors, latencies


async def _document(settings: Any) -> Any:
    anchor = PublicKey.from_b64(settings.federation.anchor_public_key)
    url = settings.federation.anchor_url + "/.well-known/digitalstate/federation"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        envelope = json.loads(await response.read())
    return verify_document(envelope, anchor, now=datetime.now(UTC))


async def _client(config: Path, connections: int) -> tuple[ExchangeClient, str]:
    """The requesting node's exchange client, and the holder's base URL."""
    settings = load_node_settings(config)
    document = await _document(settings)
    member = document.member(HOLDER)
    assert member is not None, f"{HOLDER} is not a member"
    key = KeyPair.load(settings.key_path)
    client = ExchangeClient(settings.node.id, key, lambda: document, connections=connections)
    return client, member.base_url


async def run(
    config: Path,
    people: int,
    secret: bytes,
    prefix: int,
    seconds: float,
    connections: int,
    rounds: int,
) -> dict[str, Any]:
    """Alternate bare and consented phases against the holder; return the measured figures."""
    client, base_url = await _client(config, connections)
    bare_base = f"{base_url}/bench/unsigned/records/"
    bare_query = "?fields=" + ",".join(FIELDS)
    body = {"fields": list(FIELDS)}
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    bare_http = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
    pick = random.Random().randrange  # noqa: S311 - choosing people, not secrets

    async def consented() -> bool:
        n = pick(people)
        response = await client.call(
            HOLDER,
            "POST",
            "/exchange/v1/records/read",
            json_body=body,
            purpose=PURPOSE,
            consent=consent_id(prefix, n),
        )
        if response.status != 200:
            print(f"error consented read {response.status}", file=sys.stderr, flush=True)
        return response.status == 200

    async def bare() -> bool:
        url = bare_base + person_pseudonym(secret, pick(people)) + bare_query
        async with bare_http.get(url) as response:
            await response.read()
            if response.status != 200:
                print(f"error bare read {response.status}", file=sys.stderr, flush=True)
            return response.status == 200

    try:
        return await _measure(consented, bare, seconds, connections, rounds)
    finally:
        await bare_http.close()
        await client.close()


async def _measure(
    consented: Call, bare: Call, seconds: float, connections: int, rounds: int
) -> dict[str, Any]:
    # Warm both pools (and the caches) so that connection set-up is not measured.
    await _phase(consented, 0.3, connections)
    await _phase(bare, 0.3, connections)
    phases = 2 * rounds
    _report(0, phases)
    latencies: dict[str, list[float]] = {"bare": [], "consented": []}
    errors = {"bare": 0, "consented": 0}
    elapsed = {"bare": 0.0, "consented": 0.0}
    for round_ in range(rounds):
        for name, call in (("bare", bare), ("consented", consented)):
            # The other phase left this pool idle for longer than the holder keeps a connection
            # open (uvicorn: 5 s): open them again, unmeasured.
            await _phase(call, 0.2, connections)
            began = time.perf_counter()
            failed, measured = await _phase(call, seconds / rounds, connections)
            elapsed[name] += time.perf_counter() - began
            errors[name] += failed
            latencies[name].extend(measured)
            _report(2 * round_ + (2 if name == "consented" else 1), phases)
    signed, plain = sorted(latencies["consented"]), sorted(latencies["bare"])
    consented_rps = len(signed) / elapsed["consented"]
    bare_rps = len(plain) / elapsed["bare"]
    return {
        "consented_reads_rps": round(consented_rps, 1),
        "bare_reads_rps": round(bare_rps, 1),
        "overhead_ratio": round(bare_rps / consented_rps, 3) if consented_rps else None,
        "p50_ms": round(percentile(signed, 0.50) * 1000, 3),
        "p99_ms": round(percentile(signed, 0.99) * 1000, 3),
        "bare_p50_ms": round(percentile(plain, 0.50) * 1000, 3),
        "bare_p99_ms": round(percentile(plain, 0.99) * 1000, 3),
        "consented_reads": len(signed),
        "bare_reads": len(plain),
        "errors": errors["consented"] + errors["bare"],
        "connections": connections,
    }


def main() -> None:
    """python -m digitalstate.benchmarks.consent_load CONFIG PEOPLE SECRET_HEX PREFIX SECONDS
    CONNECTIONS ROUNDS"""
    import uvloop

    config, people, secret, prefix, seconds, connections, rounds = sys.argv[1:8]
    result = uvloop.run(
        run(
            Path(config),
            int(people),
            bytes.fromhex(secret),
            int(prefix),
            float(seconds),
            int(connections),
            int(rounds),
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
