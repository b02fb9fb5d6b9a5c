"""`digitalstate log verify` against real node processes: it passes on a healthy log and names
each tampering (issue 4's tamper tests).

The consent federation of consent_e2e_support (trust anchor, charter, People register,
liverpool-pensions, each its own process on SQLite). A person consents at the charter for
pensions, and pensions reads under the consent: every read is an entry in the People
register's log. The test waits until the register's sequencer has integrated every stored
entry, then runs the real command in its own process, pinning the trust anchor's key. The
tampering (log_tamper.py) changes the register's database file while the register runs.

The tests share one federation, in order: the change, delete, swap and relabel tampers are put
back after each check, so the next test finds a healthy log; truncation and the fork cannot be
put back, and come last.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import log_tamper
import pytest
from browser_support import Browser
from consent_e2e_support import (
    CHARTER,
    PENSIONS,
    REGISTER,
    ConsentFederation,
    give_consent,
    person,
    read_as_pensions,
    set_up_federation,
    sign_in_at_pensions,
)
from e2e_support import http_get, processes, run_cli, wait_for
from sqlalchemy import Engine, func, insert, select, update

from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import log_origin
from digitalstate.transparency.models import LogEntryRow
from digitalstate.transparency.note import SignedNote

pytestmark = pytest.mark.e2e

INTEGRATED_WITHIN_S = 20.0


@dataclass
class Audited:
    """The running federation, the consent pensions reads under, and where states go."""

    federation: ConsentFederation
    consent_id: str
    states: Path

    @property
    def register(self) -> Engine:
        return self.federation.engine(REGISTER)

    def anchor_key(self) -> str:
        return KeyPair.load(self.federation.root / "anchor" / "anchor.key").public.b64

    def size(self, member: str = REGISTER) -> int:
        answer = http_get(self.federation.urls[member] + "/.well-known/digitalstate/checkpoint")
        assert answer.status == 200, answer.body
        return SignedNote.parse(answer.body.decode()).checkpoint.size

    def stored(self) -> int:
        with self.register.connect() as db:
            return int(db.execute(select(func.count()).select_from(LogEntryRow)).scalar_one())

    def integrated(self) -> int:
        """Wait until the register's newest checkpoint covers every stored entry; its size."""
        return wait_for(
            lambda: (size := self.size()) == self.stored() and size,
            INTEGRATED_WITHIN_S,
            "the register's sequencer to integrate every entry",
        )

    def reads(self, count: int) -> int:
        """Pensions reads count times under the consent; the register's log size after."""
        for _ in range(count):
            answer = read_as_pensions(self.federation, self.consent_id)
            assert answer.status == 200, answer.body
        return self.integrated()

    def verify(
        self, state: str, *args: str, member: str = REGISTER
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "log",
            "verify",
            "--node",
            self.federation.urls[member],
            "--anchor",
            self.federation.anchor_url,
            "--anchor-key",
            self.anchor_key(),
            "--state",
            str(self.states / f"{state}.json"),
            *args,
            check=False,
        )

    def passes(self, state: str, *args: str, member: str = REGISTER) -> dict[str, Any]:
        result = self.verify(state, "--json", *args, member=member)
        assert result.returncode == 0, result.stderr
        outcome: dict[str, Any] = json.loads(result.stdout)
        assert outcome["ok"] and outcome["member"] == member
        return outcome

    def fails(self, state: str, kind: str, *args: str) -> str:
        """Verify, which must fail naming kind in one line; the line."""
        result = self.verify(state, *args)
        assert result.returncode == 1, (result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        url = self.federation.urls[REGISTER]
        assert lines[0].startswith(f"digitalstate: error: log verify failed for {url}: {kind}: ")
        return lines[0]

    def origin(self) -> str:
        return log_origin(self.federation.document().federation, REGISTER)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    root = tmp_path_factory.mktemp("log-verify")
    with processes(root / "logs") as procs:
        federation = set_up_federation(root, procs)
        browser = Browser()
        try:
            ask = sign_in_at_pensions(browser, federation, person(3))
            consent_id, _ = give_consent(browser, federation, ask)
            states = root / "states"
            states.mkdir()
            running = Audited(federation, consent_id, states)
            running.reads(6)
            yield running
        finally:
            browser.close()
            federation.close()


def test_a_healthy_log_verifies_and_the_second_run_audits_only_what_is_new(
    audited: Audited,
) -> None:
    size = audited.integrated()
    first = audited.passes("healthy")
    assert first["previous"] is None and first["full"] is True
    assert first["audited"] == {"from": 0, "to": first["size"], "leaves": first["size"]}
    assert first["size"] >= size > 6  # the consent's reads and the six reads at least

    grown = audited.reads(3)
    second = audited.passes("healthy")
    assert second["previous"]["size"] == first["size"]
    assert second["previous"]["root"] == first["root"]
    assert second["full"] is False
    assert second["audited"] == {
        "from": first["size"],
        "to": grown,
        "leaves": grown - first["size"],
    }
    # The old leaves are re-read too: a log this small, whole at every run.
    assert second["reaudit"]["read"] == [{"from": 0, "to": grown, "of": grown, "complete": True}]
    # The human summary of the same.
    result = audited.verify("healthy")
    assert result.returncode == 0, result.stderr
    assert f"Verified the log of {REGISTER} at {audited.federation.urls[REGISTER]}" in result.stdout
    assert "  re-audit  leaves 0 to " in result.stdout and "pass complete" in result.stdout
    # The other nodes' logs verify too: the charter's holds the consent, pensions' its reads.
    for member in (CHARTER, PENSIONS):
        assert audited.passes(f"healthy-{member}", member=member)["size"] >= 0


def test_the_incremental_run_catches_a_change_to_an_entry_added_since(audited: Audited) -> None:
    verified = audited.passes("incremental")["size"]
    grown = audited.reads(4)
    with put_back(audited.register, verified + 1):
        log_tamper.change_entry(audited.register, verified + 1)
        line = audited.fails("incremental", "audit")  # the default run: only the new leaves
        assert "do not hash to the signed root" in line
    after = audited.passes("incremental")
    assert after["audited"] == {"from": verified, "to": grown, "leaves": grown - verified}


@pytest.mark.parametrize(
    ("tamper", "leaves", "said"),
    [
        pytest.param(lambda e: log_tamper.change_entry(e, 2), (2,), "signed root", id="change"),
        pytest.param(lambda e: log_tamper.delete_entry(e, 1), (1,), "lacks leaf 1", id="delete"),
        pytest.param(lambda e: log_tamper.swap_entries(e, 0, 3), (0, 3), "signed root", id="swap"),
        pytest.param(
            lambda e: log_tamper.relabel_entry(e, 4),
            (4,),
            "leaf 4 is filed under another pseudonym",
            id="relabel",
        ),
    ],
)
def test_the_next_default_run_catches_an_old_entry_changed_deleted_moved_or_relabelled(
    audited: Audited, tamper: Callable[[Engine], None], leaves: tuple[int, ...], said: str
) -> None:
    state = f"old-{len(leaves)}-{leaves[0]}"
    audited.integrated()
    audited.passes(state)
    saved = (audited.states / f"{state}.json").read_text()
    with put_back(audited.register, *leaves):
        tamper(audited.register)
        # Nothing new to audit: the default run's re-audit of the old leaves finds it.
        line = audited.fails(state, "audit")
        assert REGISTER in line and said in line
        assert (audited.states / f"{state}.json").read_text() == saved, "nothing saved"
        audited.fails(state, "audit", "--full")
    after = audited.passes(state)
    assert after["reaudit"]["read"][0]["from"] == 0 and after["reaudit"]["pass"]["complete"]


def test_a_truncated_log_is_caught_as_shrunk(audited: Audited) -> None:
    size = audited.reads(1)
    audited.passes("truncate")
    key = audited.federation.key(REGISTER)
    log_tamper.truncate(audited.register, size - 3, key, audited.origin())
    line = audited.fails("truncate", "shrunk")
    assert f"shrank from {size} to {size - 3} leaves" in line


def test_a_fork_is_caught_against_the_last_verification(audited: Audited) -> None:
    size = audited.integrated()
    assert audited.passes("fork")["size"] == size  # what this auditor saw: a log of size
    log_tamper.fork(audited.register, audited.federation.key(REGISTER), audited.origin())
    line = audited.fails("fork", "fork")
    assert f"two different root hashes for the same size {size}" in line


# --- putting a tampered entry back ------------------------------------------------------------


@contextlib.contextmanager
def put_back(engine: Engine, *leaves: int) -> Iterator[None]:
    """Remember the stored entries at leaves; put them back as they were on the way out."""
    table = LogEntryRow.__table__
    with engine.connect() as db:
        rows = [
            dict(row._mapping)
            for row in db.execute(select(table).where(table.c.leaf_index.in_(leaves)))
        ]
    assert len(rows) == len(leaves)
    try:
        yield
    finally:
        with engine.begin() as db:
            for row in rows:  # out of the way first, so that swapped indexes stay unique
                db.execute(update(table).where(table.c.id == row["id"]).values(leaf_index=None))
            for row in rows:
                found = db.execute(select(table.c.id).where(table.c.id == row["id"])).first()
                if found is None:
                    db.execute(insert(table).values(**row))
                else:
                    db.execute(update(table).where(table.c.id == row["id"]).values(**row))
