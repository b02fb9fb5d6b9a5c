"""Witnesses across real node processes, on SQLite and on PostgreSQL (issue 4).

A federation set up with the CLI (`federation init`, `node init`; the members are added with
the use case `federation add-member` runs, in one transaction rather than a process each): a
trust anchor and eight members, each its own process and database. alpha witnesses the others
every 0.5 s ([log] witness_interval_seconds through its environment); the others witness only
once an hour, so what is checked here is alpha's work. The members start together, so alpha
may try some before they answer: a log it has never reached is failing, never an alarm. Each
of bravo and the six tamper targets logs 20 entries (appended with the node's own
record_access, as its features do), and alpha verifies, audits and cosigns them all.

Then each target is tampered with in its own way (tests/e2e/log_tamper.py), all at once, and
alpha raises an alarm of the right kind for each, on its operator page and in its /metrics.
Last, bravo is stopped: alpha alarms after [log] witness_alarm_after_seconds, keeps what it
verified, and when bravo comes back (with entries logged meanwhile) checks and cosigns its log
again from the last good state, clearing the alarm.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import log_tamper
import pytest
from consent_e2e_support import running_on
from e2e_support import (
    HOST,
    HttpAnswer,
    Processes,
    add_members,
    flags,
    free_port,
    hermetic_env,
    http_get,
    operator_headers,
    run_cli,
    run_cli_each,
    wait_for,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from digitalstate.demo.supervisor import Child
from digitalstate.federation.domain import FederationDocument, verify_document
from digitalstate.keys import KeyPair
from digitalstate.settings import load_node_settings
from digitalstate.storage.engine import make_engine
from digitalstate.transparency.entries import log_origin
from digitalstate.transparency.models import LogAlarm, WitnessedLog
from digitalstate.transparency.note import SignedNote
from digitalstate.transparency.store import record_access
from digitalstate.transparency.verify import cosigners, witness_keys
from support.databases import DATABASE_KINDS
from support.metrics import Series, metric_values

pytestmark = pytest.mark.e2e

FEDERATION_PATH = "/.well-known/digitalstate/federation"
CHECKPOINT_PATH = "/.well-known/digitalstate/checkpoint"
WATCHER, HEALTHY = "alpha", "bravo"
# Each tamper target, and the kind of alarm its tamper must raise.
TAMPERED = {
    "tamper-change": "audit",
    "tamper-delete": "audit",
    "tamper-swap": "audit",
    "tamper-relabel": "audit",  # the index column, not the entry: the same alarm
    "tamper-truncate": "shrunk",
    "tamper-fork": "fork",
}
MEMBERS = [WATCHER, HEALTHY, *TAMPERED]
ENTRIES = 20
ALARM_AFTER_S = 2.0
WAIT_S = 60.0
WATCHER_ENV = {
    "DIGITALSTATE_LOG__WITNESS_INTERVAL_SECONDS": "0.5",
    "DIGITALSTATE_LOG__WITNESS_ALARM_AFTER_SECONDS": str(ALARM_AFTER_S),
    "DIGITALSTATE_LOG__WITNESS_AUDIT_LEAVES": "8",  # a pass over 20 entries takes 3 rounds
}
QUIET_ENV = {"DIGITALSTATE_LOG__WITNESS_INTERVAL_SECONDS": "3600"}


@dataclass
class Federation:
    """The anchor and the members: running, and inspectable from the test."""

    root: Path
    urls: dict[str, str]
    procs: Processes
    document: FederationDocument
    children: dict[str, Child] = field(default_factory=dict)
    _engines: dict[str, Engine] = field(default_factory=dict)
    _operator: dict[str, str] = field(default_factory=dict)

    def operator(self) -> dict[str, str]:
        """The watcher's operator token header, issued once with the CLI."""
        if not self._operator:
            self._operator.update(operator_headers(self.config(WATCHER)))
        return self._operator

    def operator_log(self) -> HttpAnswer:
        """The watcher's operator log page, fetched with the operator token."""
        return http_get(self.urls[WATCHER] + "/operator/log", headers=self.operator())

    def config(self, member: str) -> Path:
        return self.root / member / "node.toml"

    def key(self, member: str) -> KeyPair:
        return KeyPair.load(self.root / member / "node.key")

    def origin(self, member: str) -> str:
        return log_origin(self.document.federation, member)

    def engine(self, member: str) -> Engine:
        if member not in self._engines:
            self._engines[member] = make_engine(
                load_node_settings(self.config(member)).database_url
            )
        return self._engines[member]

    def start(self, member: str) -> Child:
        env = WATCHER_ENV if member == WATCHER else QUIET_ENV
        child = self.procs.start(
            member,
            ["node", "serve", "--config", str(self.config(member))],
            self.urls[member],
            hermetic_env(**env),
        )
        self.children[member] = child
        return child

    def append(self, member: str, count: int) -> None:
        """Log count entries at member, as its features would."""
        with self.engine(member).begin() as db:
            for i in range(count):
                record_access(
                    db,
                    holder=member,
                    pseudonym=f"person-{i % 4}",
                    requester=WATCHER,
                    action="read",
                    outcome="allowed",
                    now=datetime.now(UTC),
                    purpose="pension-administration",
                    fields=["people.address"],
                )

    def checkpoint(self, member: str) -> SignedNote | None:
        answer = http_get(self.urls[member] + CHECKPOINT_PATH)
        return SignedNote.parse(answer.body.decode()) if answer.status == 200 else None

    def cosigned_by(self, member: str, note: SignedNote) -> list[str]:
        return cosigners(note, witness_keys(self.document, besides=member))

    def metrics(self) -> dict[Series, float]:
        answer = http_get(self.urls[WATCHER] + "/metrics", headers=self.operator())
        assert answer.status == 200, answer.body
        return metric_values(answer.body.decode())

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()


def witnessed(federation: Federation, member: str) -> WitnessedLog | None:
    """alpha's log_witnessed row about member (read with a session of alpha's database)."""
    with Session(federation.engine(WATCHER)) as session:
        return session.get(WitnessedLog, member)


def open_alarm(federation: Federation, member: str, kind: str) -> bool:
    key = ("digitalstate_log_alarms_open", (("kind", kind), ("member", member)))
    return federation.metrics().get(key, 0) >= 1


def set_up(root: Path, procs: Processes, database_urls: Mapping[str, str] | None) -> Federation:
    anchor_port = free_port()
    anchor_url = f"http://{HOST}:{anchor_port}"
    anchor_dir = root / "anchor"
    run_cli("federation", "init", *flags(dir=anchor_dir, port=anchor_port))
    anchor_key = KeyPair.load(anchor_dir / "anchor.key").public
    ports = {member: free_port() for member in MEMBERS}
    run_cli_each(
        [
            "node",
            "init",
            *flags(
                id=member,
                roles="register",
                anchor_key=anchor_key.b64,
                anchor_url=anchor_url,
                dir=root / member,
                port=ports[member],
            ),
            *(["--database-url", database_urls[member]] if database_urls else []),
        ]
        for member in MEMBERS
    )
    add_members(anchor_dir / "anchor.toml", [root / member / "node.toml" for member in MEMBERS])
    procs.serve_anchor(anchor_dir / "anchor.toml", anchor_url)
    envelope = http_get(anchor_url + FEDERATION_PATH).json()
    document = verify_document(envelope, anchor_key, now=datetime.now(UTC))
    federation = Federation(
        root, {m: f"http://{HOST}:{port}" for m, port in ports.items()}, procs, document
    )
    started = [federation.start(member) for member in MEMBERS]
    for child in started:
        procs.wait_ready(child)
    return federation


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def federation(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp(f"log-witness-{request.param}")
    with running_on(
        request.param, root, MEMBERS, lambda procs, urls: set_up(root, procs, urls)
    ) as running:
        yield running


def test_healthy_logs_are_cosigned_each_tamper_is_caught_and_an_outage_heals(
    federation: Federation,
) -> None:
    _every_log_is_verified_audited_and_cosigned(federation)
    _each_tamper_raises_its_alarm(federation)
    _an_outage_alarms_and_heals_without_losing_state(federation)


def _every_log_is_verified_audited_and_cosigned(federation: Federation) -> None:
    watched = [HEALTHY, *TAMPERED]
    for member in watched:
        federation.append(member, ENTRIES)

    def cosigned(member: str) -> bool:
        note = federation.checkpoint(member)
        return (
            note is not None
            and note.checkpoint.size == ENTRIES
            and federation.cosigned_by(member, note) == [WATCHER]
        )

    def audited(member: str) -> bool:
        row = witnessed(federation, member)
        return row is not None and row.audited_size == ENTRIES

    for member in watched:
        wait_for(lambda m=member: cosigned(m), WAIT_S, f"alpha to cosign {member}'s log")
        wait_for(lambda m=member: audited(m), WAIT_S, f"alpha to audit {member}'s log whole")
    metrics = federation.metrics()
    for member in watched:
        assert metrics[("digitalstate_log_witnessed_size", (("member", member),))] == ENTRIES
        assert metrics[("digitalstate_log_witness_failing", (("member", member),))] == 0
    assert not [name for name, _ in metrics if name.startswith("digitalstate_log_alarms")]
    page = federation.operator_log()
    assert page.status == 200
    assert b"No alarms: every log this node witnesses has passed every check." in page.body


def _each_tamper_raises_its_alarm(federation: Federation) -> None:
    good_fork_root = bytes(_row(federation, "tamper-fork").root)
    log_tamper.change_entry(federation.engine("tamper-change"), 4)
    log_tamper.delete_entry(federation.engine("tamper-delete"), 9)
    log_tamper.swap_entries(federation.engine("tamper-swap"), 2, 15)
    log_tamper.relabel_entry(federation.engine("tamper-relabel"), 6, "person-0")
    log_tamper.truncate(
        federation.engine("tamper-truncate"),
        12,
        federation.key("tamper-truncate"),
        federation.origin("tamper-truncate"),
    )
    log_tamper.fork(
        federation.engine("tamper-fork"),
        federation.key("tamper-fork"),
        federation.origin("tamper-fork"),
    )
    for member, kind in TAMPERED.items():
        wait_for(
            lambda m=member, k=kind: open_alarm(federation, m, k),
            WAIT_S,
            f"alpha to raise a {kind} alarm about {member}",
        )
    with Session(federation.engine(WATCHER)) as session:
        relabelled = session.scalars(
            select(LogAlarm.detail).where(LogAlarm.member == "tamper-relabel")
        ).one()
    assert "leaf 6 is filed under another pseudonym" in relabelled
    metrics = federation.metrics()
    for member, kind in TAMPERED.items():
        labels = (("kind", kind), ("member", member))
        assert metrics[("digitalstate_log_alarms_total", labels)] == 1, (member, kind)
    assert not [
        labels
        for (name, labels) in metrics
        if name == "digitalstate_log_alarms_open" and dict(labels)["member"] == HEALTHY
    ]

    page = federation.operator_log().body.decode()
    alarms = re.findall(
        r'<code class="ds-code">([a-z-]+)</code></span>\s*</td>\s*<td class="govuk-table__cell">'
        r'<span class="govuk-!-font-weight-bold alarm-kind">([a-z-]+)</span>',
        page,
    )
    # Each tamper's own kind; a truncated log also fails its audit (it no longer serves the
    # leaves it signed), which may show too.
    assert set(TAMPERED.items()) <= set(alarms) <= {*TAMPERED.items(), ("tamper-truncate", "audit")}
    assert page.count("govuk-tag--red") == len(alarms)

    # The forked and the truncated logs are not cosigned, and alpha keeps what it verified.
    for member in ("tamper-fork", "tamper-truncate"):
        note = federation.checkpoint(member)
        assert note is not None and federation.cosigned_by(member, note) == []
        assert _row(federation, member).size == ENTRIES
    assert bytes(_row(federation, "tamper-fork").root) == good_fork_root


def _an_outage_alarms_and_heals_without_losing_state(federation: Federation) -> None:
    failing = ("digitalstate_log_witness_failing", (("member", HEALTHY),))
    federation.procs.stop(federation.children[HEALTHY])
    wait_for(
        lambda: open_alarm(federation, HEALTHY, "unreachable"),
        WAIT_S,
        "alpha to raise an unreachable alarm about bravo",
    )
    assert federation.metrics()[failing] == 1
    during = _row(federation, HEALTHY)
    assert during.failing_since is not None and "did not answer" in during.last_error
    assert (during.size, during.cosigned_size) == (ENTRIES, ENTRIES)  # nothing forgotten
    page = federation.operator_log().body.decode()
    assert "Failing" in page and "could not be fetched since" in page

    federation.append(HEALTHY, 5)  # bravo goes on logging while it is out of sight
    federation.procs.wait_ready(federation.start(HEALTHY))

    def healed() -> bool:
        row = _row(federation, HEALTHY)
        return row.size == ENTRIES + 5 and row.cosigned_size == ENTRIES + 5

    wait_for(healed, WAIT_S, "alpha to verify and cosign bravo's grown log")
    after = _row(federation, HEALTHY)
    assert after.failing_since is None and after.last_error == ""
    assert not open_alarm(federation, HEALTHY, "unreachable")
    assert federation.metrics()[failing] == 0
    note = federation.checkpoint(HEALTHY)
    assert note is not None and note.checkpoint.size == ENTRIES + 5
    assert federation.cosigned_by(HEALTHY, note) == [WATCHER]
    page = federation.operator_log().body.decode()
    assert "by the witness: it answered again" in page


def _row(federation: Federation, member: str) -> WitnessedLog:
    row = witnessed(federation, member)
    assert row is not None, f"alpha keeps nothing about {member}"
    return row
