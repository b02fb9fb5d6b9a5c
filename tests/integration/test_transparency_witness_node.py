"""A node's witness over real HTTP: it checks, cosigns and alarms; its page and /metrics.

The witnessed node (people-register) is the real node app served by uvicorn in a thread on
127.0.0.1; its sequencer integrates what the test appends. The witness (witness-node) is a
NodeRuntime in the test's event loop with its real aiohttp session and ExchangeClient; its
app runs in-process for the operator page and /metrics. Both nodes use the test's one
database (SQLite or PostgreSQL): their log tables do not overlap, since a node never witnesses
itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import log_tamper
import pytest

from digitalstate.app import create_node_app
from digitalstate.keys import KeyPair
from digitalstate.node.roles import worker_id
from digitalstate.node.runtime import NodeRuntime
from digitalstate.settings import NodeSettings
from digitalstate.transparency.entries import log_origin
from digitalstate.transparency.models import WitnessedLog
from digitalstate.transparency.note import SignedNote
from digitalstate.transparency.store import read_head, record_access
from digitalstate.transparency.verify import cosigners, witness_keys
from digitalstate.transparency.witness_service import Witness
from support.federation import hold, nodes_document
from support.metrics import Series, metric_values
from support.nodes import ServedNode, node_runtime, node_settings
from support.servers import bound_socket, port_of

from .operator_support import operator_headers

ANCHOR = KeyPair.from_seed(bytes(range(140, 172)))
FEDERATION = "witness test federation"
LOGGER, WITNESS = "people-register", "witness-node"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_settings(
    directory: Path, member_id: str, port: int, database_url: str, **log: float
) -> NodeSettings:
    name = member_id.replace("-", " ").capitalize()
    extra = {"log": dict(log)}
    return node_settings(
        directory, member_id, database_url, name=name, port=port, anchor=ANCHOR, extra=extra
    )


@dataclass
class Pair:
    """The served log node and the witness's runtime and in-process app."""

    logger: ServedNode
    witness: NodeRuntime
    app: Any
    loop: asyncio.Runner
    base_url: str

    def append(self, count: int) -> None:
        with self.logger.runtime.engine.begin() as db:
            for _ in range(count):
                record_access(
                    db,
                    holder=LOGGER,
                    pseudonym="p" * 32,
                    requester=WITNESS,
                    action="read",
                    outcome="allowed",
                    now=datetime.now(UTC),
                    purpose="pension-administration",
                    fields=["people.address"],
                )

    def integrated(self, size: int) -> None:
        deadline = time.monotonic() + 10
        while True:
            with self.logger.runtime.engine.connect() as db:
                head = read_head(db)
            if head is not None and head.size >= size:
                return
            assert time.monotonic() < deadline, f"the log did not reach {size} entries"
            time.sleep(0.05)

    def round(self) -> None:
        async def once() -> None:
            try:
                async with Witness(self.witness) as witness:
                    await witness.round()
            finally:
                await self.witness.client.close()

        self.loop.run(once())

    def state(self) -> WitnessedLog:
        with self.witness.sessions.begin() as session:
            row = session.get(WitnessedLog, LOGGER)
            assert row is not None
            return row

    def served_checkpoint(self) -> SignedNote:
        answer = httpx.get(self.base_url + "/.well-known/digitalstate/checkpoint", timeout=5)
        assert answer.status_code == 200, answer.text
        return SignedNote.parse(answer.text)

    def get(self, path: str, host: str = "127.0.0.1") -> httpx.Response:
        return self.loop.run(self._client(host).get(path))

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.loop.run(self._client("127.0.0.1").post(path, data=data))

    @functools.cached_property
    def operator(self) -> dict[str, str]:
        """The operator token's header, issued once for this pair."""
        return operator_headers(self.witness.settings.data_dir)

    def _client(self, host: str) -> httpx.AsyncClient:
        key = f"http-{host}"
        if key not in self.__dict__:
            transport = httpx.ASGITransport(app=self.app, client=(host, 50000))
            self.__dict__[key] = httpx.AsyncClient(
                transport=transport,
                base_url=self.witness.settings.node.base_url,
                headers=self.operator,
            )
        client: httpx.AsyncClient = self.__dict__[key]
        return client

    def metrics(self) -> dict[Series, float]:
        answer = self.get("/metrics")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        return metric_values(answer.text, worker_id())

    def close(self) -> None:
        for key in [k for k in self.__dict__ if k.startswith("http-")]:
            self.loop.run(self.__dict__[key].aclose())


@pytest.fixture
def pair(tmp_path: Path, database_url: str, engine: object) -> Iterator[Pair]:
    sock = bound_socket()
    port = port_of(sock)
    # The witnessed node's own witness waits an hour: only the witness-node witnesses here.
    logger_settings = make_settings(
        tmp_path / "logger", LOGGER, port, database_url, witness_interval_seconds=3600
    )
    witness_settings = make_settings(
        tmp_path / "witness",
        WITNESS,
        1,
        database_url,
        witness_alarm_after_seconds=0.01,
        witness_audit_leaves=4,
    )
    document = nodes_document(logger_settings, witness_settings, federation=FEDERATION)
    hold(document, logger_settings, witness_settings, anchor=ANCHOR)
    logger = ServedNode(logger_settings, sock)
    witness = node_runtime(witness_settings)
    assert witness.keeper.load_cache()
    app = create_node_app(witness_settings, witness)
    witness.background.clear()  # the test runs the witness's rounds itself
    loop = asyncio.Runner()
    pair = Pair(logger, witness, app, loop, f"http://127.0.0.1:{port}")
    try:
        logger.start()
        yield pair
    finally:
        pair.close()
        loop.close()
        logger.stop()
        witness.engine.dispose()


def cosigned_by(pair: Pair, note: SignedNote) -> list[str]:
    document = pair.witness.keeper.current()
    return cosigners(note, witness_keys(document, besides=LOGGER))


def test_the_witness_verifies_cosigns_and_audits_a_healthy_log(pair: Pair) -> None:
    pair.append(6)
    pair.integrated(6)
    pair.round()
    assert cosigned_by(pair, pair.served_checkpoint()) == [WITNESS]
    state = pair.state()
    assert (state.size, state.cosigned_size, state.audit_position) == (6, 6, 4)

    pair.append(3)
    pair.integrated(9)
    pair.round()  # grows to 9 by a consistency proof; the audit of 6 ends
    state = pair.state()
    assert (state.size, state.cosigned_size, state.audited_size) == (9, 9, 6)
    served = pair.served_checkpoint()
    assert served.checkpoint.size == 9 and cosigned_by(pair, served) == [WITNESS]

    metrics = pair.metrics()
    assert metrics[("digitalstate_log_witnessed_size", (("member", LOGGER),))] == 9
    assert metrics[("digitalstate_log_witness_failing", (("member", LOGGER),))] == 0
    assert metrics[("digitalstate_log_pending", ())] == 0
    assert not any(name.startswith("digitalstate_log_alarms") for name, _ in metrics)

    page = pair.get("/operator/log")
    assert page.status_code == 200
    assert "No alarms: every log this node witnesses has passed every check." in page.text
    assert LOGGER in page.text and "Answering" in page.text


def test_a_fork_is_an_alarm_with_a_log_line_a_metric_and_an_entry_on_the_page(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    pair.append(5)
    pair.integrated(5)
    pair.round()
    good = pair.state()
    key = KeyPair.load(pair.logger.runtime.settings.key_path)
    log_tamper.fork(pair.logger.runtime.engine, key, log_origin(FEDERATION, LOGGER))

    with caplog.at_level(logging.ERROR, logger="digitalstate.transparency.witness"):
        pair.round()
        pair.round()  # found again: still one alarm
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(f"log alarm: member={LOGGER} kind=fork: ")
    assert bytes(pair.state().root) == bytes(good.root)
    assert cosigned_by(pair, pair.served_checkpoint()) == []  # the forged one is not cosigned

    metrics = pair.metrics()
    labels = (("kind", "fork"), ("member", LOGGER))
    assert metrics[("digitalstate_log_alarms_total", labels)] == 1
    assert metrics[("digitalstate_log_alarms_open", labels)] == 1

    page = pair.get("/operator/log")
    assert '<span class="govuk-!-font-weight-bold alarm-kind">fork</span>' in page.text
    assert "does not extend" in page.text or "different root" in page.text
    alarm_id = re.search(r'action="/operator/log/alarms/(\d+)/clear"', page.text)
    token = CSRF.search(page.text)
    assert alarm_id and token
    refused = pair.post(f"/operator/log/alarms/{alarm_id.group(1)}/clear", {"csrf_token": "x"})
    assert refused.status_code == 403
    cleared = pair.post(
        f"/operator/log/alarms/{alarm_id.group(1)}/clear", {"csrf_token": token.group(1)}
    )
    assert cleared.status_code == 303
    assert cleared.headers["location"] == f"/operator/log?cleared={alarm_id.group(1)}"
    shown = pair.get(cleared.headers["location"])
    assert f"Alarm {alarm_id.group(1)} is cleared." in shown.text
    assert "by an operator" in shown.text
    assert ("digitalstate_log_alarms_open", labels) not in pair.metrics()


def test_an_unreachable_node_alarms_and_its_state_is_kept(pair: Pair) -> None:
    pair.append(4)
    pair.integrated(4)
    pair.round()
    pair.logger.stop()
    pair.round()
    time.sleep(0.05)  # past [log] witness_alarm_after_seconds (0.01 s here)
    pair.round()
    state = pair.state()
    assert state.failing_since is not None and "did not answer" in state.last_error
    assert (state.size, state.cosigned_size) == (4, 4)
    metrics = pair.metrics()
    assert metrics[("digitalstate_log_witness_failing", (("member", LOGGER),))] == 1
    labels = (("kind", "unreachable"), ("member", LOGGER))
    assert metrics[("digitalstate_log_alarms_total", labels)] == 1
    page = pair.get("/operator/log")
    assert "Failing" in page.text and "did not answer" in page.text


def test_the_page_and_metrics_refuse_another_machine(pair: Pair) -> None:
    page = pair.get("/operator/log", host="203.0.113.9")
    metrics = pair.get("/metrics", host="203.0.113.9")
    assert page.status_code == metrics.status_code == 403
    assert "only available on the node&#39;s own machine" in page.text
