"""A node as three worker processes over PostgreSQL (issue 11, DESIGN §9, ADR 0024).

The consent federation of consent_e2e_support on PostgreSQL, the People register and the
charter each served by `node serve` with three workers on one port; pensions by one. Which
worker answers a request is the kernel's choice; a test that must reach a given worker keeps a
connection that worker accepted (each /readyz says which worker answered and its roles).

- a signed request replayed to another worker of the register is refused;
- the whole consent journey passes (sign in, consent, change of address told, withdrawal);
- kill -9 of the worker holding the log sequencer, then of the one delivering notices: no
  acknowledged read's log entry is lost, no leaf is numbered twice, `digitalstate log verify`
  passes on the checkpoints before and after, every notice arrives, and the roles move to
  another worker (uvicorn's supervisor starts a new worker in the killed one's place).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import Browser
from consent_e2e_support import (
    CHARTER,
    PENSIONS,
    REGISTER,
    RUN,
    WORKERS_ENV,
    ConsentFederation,
    change_address,
    give_consent,
    person,
    postcode_held,
    read_as_pensions,
    running_on,
    set_up_federation,
    sign_in_at_pensions,
    whole_journey,
)
from e2e_support import (
    SPAWNED_START_TIMEOUT_S,
    HttpAnswer,
    free_port,
    hermetic_env,
    http_get,
    run_cli,
    wait_for,
)
from sqlalchemy import func, select

from digitalstate.exchange.client import ExchangeClient
from digitalstate.keys import KeyPair
from digitalstate.node.roles import NOTICE_DELIVERY, SEQUENCER, WITNESS
from digitalstate.registers.models import OutboxMessage
from digitalstate.transparency.models import LogEntryRow
from digitalstate.transparency.note import SignedNote

# Six spawned workers start with the federation (each a fresh interpreter importing the app):
# on a busy 2-core machine that alone can take minutes, and counts towards the first test.
pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(400)]

WORKERS = 3
ROLE_RETRY_S = 0.2
# How long a role may take to move after its worker is killed: the retry interval and a
# generous margin for a loaded 2-core machine (the kernel closes the killed worker's connection
# at once; PostgreSQL frees its lock as soon as it reads the end of the stream).
MOVED_WITHIN_S = ROLE_RETRY_S + 10.0
SETTLED_WITHIN_S = 30.0
SERVICES_PATH = "/exchange/v1/services"
PROBLEM = "urn:digitalstate:problem:"

MANY_WORKERS = {
    WORKERS_ENV: str(WORKERS),
    "DIGITALSTATE_SERVER__ROLE_RETRY_SECONDS": str(ROLE_RETRY_S),
    "DIGITALSTATE_TELLUSONCE__POLL_SECONDS": "0.2",
    "DIGITALSTATE_TELLUSONCE__RETRY_BASE_SECONDS": "0.1",
    "DIGITALSTATE_TELLUSONCE__RETRY_MAX_SECONDS": "0.3",
}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsentFederation]:
    """The consent federation on PostgreSQL, the register and the charter with three workers."""
    root = tmp_path_factory.mktemp("workers")
    env = {REGISTER: MANY_WORKERS, CHARTER: MANY_WORKERS}
    with running_on(
        "postgres",
        root,
        RUN,
        lambda procs, urls: set_up_federation(root, procs, database_urls=urls, env=env),
    ) as running:
        for member in env:  # /readyz was answered by one worker: wait for all three
            every_worker_answers(running.urls[member])
        yield running


# --- reaching one worker -------------------------------------------------------------------


def _request(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
) -> HttpAnswer:
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


@contextlib.contextmanager
def one_connection_per_worker(url: str, count: int) -> Iterator[dict[int, Any]]:
    """Keep-alive connections to url, one accepted by each of count workers (by pid)."""
    parts = urlsplit(url)
    found: dict[int, http.client.HTTPConnection] = {}
    try:
        for _ in range(100):
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            pid = _request(connection, "GET", "/readyz").json()["worker"]["pid"]
            if pid in found:
                connection.close()
            else:
                found[pid] = connection
            if len(found) == count:
                break
        assert len(found) == count, f"only workers {sorted(found)} answered"
        yield found
    finally:
        for connection in found.values():
            connection.close()


def workers_seen(url: str, tries: int = 30) -> dict[int, list[str]]:
    """The workers that answered /readyz on new connections, and the roles each holds."""
    seen: dict[int, list[str]] = {}
    for _ in range(tries):
        worker = http_get(url + "/readyz", timeout=10).json()["worker"]
        seen[worker["pid"]] = worker["holds"]
    return seen


def every_worker_answers(url: str) -> None:
    """Wait until WORKERS workers answer at url (each spawned interpreter starts on its own)."""
    wait_for(
        lambda: len(workers_seen(url)) == WORKERS,
        SPAWNED_START_TIMEOUT_S,
        f"every worker at {url} to answer",
    )


def holder_of(url: str, role: str, not_pid: int | None = None) -> int:
    """The pid of the worker holding role (another than not_pid), polled until one says so."""

    def probe() -> int | None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            for pid, holds in workers_seen(url, tries=10).items():
                if role in holds and pid != not_pid:
                    return pid
        return None

    return wait_for(probe, MOVED_WITHIN_S, f"a worker of {url} to hold the role {role}", 0.05)


# --- the tests -------------------------------------------------------------------------------


def test_each_worker_says_who_it_is_and_the_roles_are_held_once(
    federation: ConsentFederation,
) -> None:
    url = federation.urls[REGISTER]
    for role in (SEQUENCER, WITNESS, NOTICE_DELIVERY):
        holder_of(url, role)  # each taken, by one worker or another
    with one_connection_per_worker(url, WORKERS) as workers:
        held: list[str] = []
        for pid, connection in workers.items():
            worker = _request(connection, "GET", "/readyz").json()["worker"]
            assert worker["pid"] == pid and worker["id"].endswith(f":{pid}")
            held += worker["holds"]
        assert sorted(held) == sorted({*held}), "a role is held by two workers"
        assert {SEQUENCER, NOTICE_DELIVERY} <= set(held)


def test_another_machine_serving_the_same_node_stands_by_for_every_role(
    federation: ConsentFederation,
) -> None:
    """A second `node serve` of the same node.toml, as another machine would run it (here on
    another port of this one), shares the roles with the three workers: it holds none of them
    while they hold every one, and it answers signed reads of the same database."""
    port = free_port()
    other_url = f"http://127.0.0.1:{port}"
    child = federation.procs.start(
        "register-elsewhere",
        ["node", "serve", "--config", str(federation.config(REGISTER))],
        other_url,
        hermetic_env(**{**MANY_WORKERS, WORKERS_ENV: "1", "DIGITALSTATE_NODE__PORT": str(port)}),
    )
    try:
        federation.procs.wait_ready(child)
        elsewhere = http_get(other_url + "/readyz").json()["worker"]
        assert elsewhere["holds"] == []
        assert set(elsewhere["standby"]) == {SEQUENCER, WITNESS, NOTICE_DELIVERY}
        held = [
            role for holds in workers_seen(federation.urls[REGISTER]).values() for role in holds
        ]
        assert sorted(held) == sorted({SEQUENCER, WITNESS, NOTICE_DELIVERY})
    finally:
        federation.procs.stop(child)


def test_a_signed_request_replayed_to_another_worker_is_refused(
    federation: ConsentFederation,
) -> None:
    url = federation.urls[REGISTER]
    document = federation.document()
    client = ExchangeClient(PENSIONS, federation.key(PENSIONS), lambda: document)
    with one_connection_per_worker(url, 2) as workers:
        first, second = workers.values()
        headers = client.sign_request("GET", url + SERVICES_PATH, b"", {})
        answered = _request(first, "GET", SERVICES_PATH, headers)
        replayed = _request(second, "GET", SERVICES_PATH, headers)
    assert answered.status == 200, answered.body
    assert replayed.status == 401, replayed.body
    assert replayed.json()["type"] == PROBLEM + "replayed-nonce"


def test_the_consent_journey_passes_with_three_workers_each(
    federation: ConsentFederation,
) -> None:
    browser = Browser()
    try:
        _, refused = whole_journey(browser, federation, person(2), "LS2 7HY")
    finally:
        browser.close()
    assert refused.status == 403


def log_state(federation: ConsentFederation) -> tuple[int, int, int, int]:
    """The register's stored entries, integrated ones, distinct leaf indexes and the largest."""
    with federation.engine(REGISTER).connect() as db:
        stored = db.execute(select(func.count()).select_from(LogEntryRow)).scalar_one()
        integrated, distinct, largest = db.execute(
            select(
                func.count(LogEntryRow.leaf_index),
                func.count(func.distinct(LogEntryRow.leaf_index)),
                func.max(LogEntryRow.leaf_index),
            )
        ).one()
    return stored, integrated, distinct, -1 if largest is None else largest


def all_integrated(federation: ConsentFederation, at_least: int) -> bool:
    """True when at least at_least entries are stored and every one has a leaf of its own,
    numbered 0 to n-1, and the register's checkpoint covers them."""
    stored, integrated, distinct, largest = log_state(federation)
    if stored < at_least or integrated != stored:
        return False
    assert distinct == integrated == largest + 1, "a leaf numbered twice, or a gap"
    checkpoint = http_get(federation.urls[REGISTER] + "/.well-known/digitalstate/checkpoint")
    assert checkpoint.status == 200, checkpoint.body
    return SignedNote.parse(checkpoint.body.decode()).checkpoint.size == stored


def verify_log(federation: ConsentFederation, state: Path) -> dict[str, Any]:
    """`digitalstate log verify` of the register, keeping its state (the checkpoint before)."""
    anchor_key = KeyPair.load(federation.root / "anchor" / "anchor.key").public.b64
    result = run_cli(
        "log",
        "verify",
        "--node",
        federation.urls[REGISTER],
        "--anchor",
        federation.anchor_url,
        "--anchor-key",
        anchor_key,
        "--state",
        str(state),
        "--json",
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout)
    assert outcome["ok"], outcome
    return outcome


def read_times(federation: ConsentFederation, consent_id: str, count: int) -> int:
    """Pensions reads under the consent count times; how many the register acknowledged."""
    return sum(read_as_pensions(federation, consent_id).status == 200 for _ in range(count))


def test_killing_the_role_holders_moves_the_roles_and_loses_nothing(
    federation: ConsentFederation, tmp_path: Path
) -> None:
    url = federation.urls[REGISTER]
    state = tmp_path / "register-log.json"
    browser = Browser()
    try:
        ask = sign_in_at_pensions(browser, federation, person(5))
        consent_id, _ = give_consent(browser, federation, ask)
        stored_before = log_state(federation)[0]
        acknowledged = read_times(federation, consent_id, 5)
        wait_for(
            lambda: all_integrated(federation, stored_before + acknowledged),
            SETTLED_WITHIN_S,
            "the reads' entries to be integrated",
        )
        verify_log(federation, state)

        # The sequencer's worker dies mid-stream: reads go on at the other workers.
        sequencer = holder_of(url, SEQUENCER)
        os.kill(sequencer, signal.SIGKILL)
        killed_at = time.monotonic()
        acknowledged += read_times(federation, consent_id, 10)
        successor = holder_of(url, SEQUENCER, not_pid=sequencer)
        moved_after = time.monotonic() - killed_at
        assert successor != sequencer and moved_after <= MOVED_WITHIN_S
        wait_for(
            lambda: all_integrated(federation, stored_before + acknowledged),
            SETTLED_WITHIN_S,
            "every acknowledged read's entry to be integrated after the failover",
        )
        after = verify_log(federation, state)  # consistent with the checkpoint kept before
        assert after["ok"]

        # The delivering worker dies as a change is made: the notice arrives all the same.
        delivering = holder_of(url, NOTICE_DELIVERY)
        change_address(browser, federation, "3 Failover Close", "LS3 1AA")
        os.kill(delivering, signal.SIGKILL)
        holder_of(url, NOTICE_DELIVERY, not_pid=delivering)
        wait_for(
            lambda: postcode_held(federation, consent_id) == "LS3 1AA",
            SETTLED_WITHIN_S,
            "pensions to be told of the change and read the new address",
        )

        def outbox() -> list[OutboxMessage]:
            with federation.sessions(REGISTER).begin() as session:
                return list(
                    session.scalars(
                        select(OutboxMessage).where(OutboxMessage.consent_id == consent_id)
                    )
                )

        # Pensions reads the new address while the notice's call is still open: the register
        # marks it delivered when the answer comes back, a moment later.
        wait_for(
            lambda: all(m.delivered_at is not None for m in outbox()),
            SETTLED_WITHIN_S,
            "the register to mark the notice delivered",
        )
        assert len(outbox()) == 1  # sent once, however many workers tried
        # uvicorn's supervisor replaced both killed workers.
        every_worker_answers(url)
        assert not {sequencer, delivering} & set(workers_seen(url))
    finally:
        browser.close()
