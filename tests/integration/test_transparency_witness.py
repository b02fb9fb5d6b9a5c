"""The witness against a real stored log, on SQLite and PostgreSQL: what it keeps and raises.

The witnessed log and the witness's own tables share one database here (a node never
witnesses itself, so they never overlap). The log is read through the store functions the
public routes use, mapped to the witness's errors as the routes map them to HTTP answers; the
tampering is tests/e2e/log_tamper.py's, as an insider would do it.
"""

from __future__ import annotations

from datetime import timedelta

import log_tamper
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digitalstate.transparency.models import WitnessedLog
from digitalstate.transparency.witness_service import (
    clear_alarm,
    list_alarms,
    load_state,
    set_cosigned,
    witnessed_logs,
)
from integration.witness_support import (
    ALARM_AFTER,
    KEY,
    MEMBER,
    ORIGIN,
    T0,
    StoreSource,
    alarm_count,
    append,
    open_alarms,
    witness,
    witnessed_log,
)


@pytest.fixture
def healthy(engine: Engine, sessions: sessionmaker[Session]) -> StoreSource:
    """A log of 20 entries, witnessed once: verified and audited whole."""
    return witnessed_log(engine, sessions)


def test_the_state_is_kept_between_rounds_and_grows_with_the_log(
    engine: Engine, sessions: sessionmaker[Session], healthy: StoreSource
) -> None:
    append(engine, 9)
    result = witness(engine, sessions, healthy, T0 + timedelta(seconds=5))
    assert result.findings == () and result.to_cosign is not None
    with sessions.begin() as session:
        (kept,) = witnessed_logs(session)
        set_cosigned(session, MEMBER, 29)
        set_cosigned(session, MEMBER, 20)  # never goes back
    assert (kept.size, kept.audited_size, kept.checked_at) == (29, 29, T0 + timedelta(seconds=5))
    with sessions.begin() as session:
        row = session.get(WitnessedLog, MEMBER)
        assert row is not None and row.cosigned_size == 29
    assert open_alarms(sessions) == []


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        (lambda engine: log_tamper.change_entry(engine, 4), "audit"),
        (lambda engine: log_tamper.delete_entry(engine, 4), "audit"),
        (lambda engine: log_tamper.swap_entries(engine, 3, 11), "audit"),
        (lambda engine: log_tamper.relabel_entry(engine, 7), "audit"),
        (lambda engine: log_tamper.truncate(engine, 12, KEY, ORIGIN), "shrunk"),
        (lambda engine: log_tamper.fork(engine, KEY, ORIGIN), "fork"),
    ],
    ids=["change_entry", "delete_entry", "swap_entries", "relabel_entry", "truncate", "fork"],
)
def test_each_tamper_raises_one_alarm_of_its_kind_and_keeps_the_good_state(
    engine: Engine,
    sessions: sessionmaker[Session],
    healthy: StoreSource,
    tamper: object,
    kind: str,
) -> None:
    with sessions.begin() as session:
        good = load_state(session, MEMBER, ORIGIN)
    tamper(engine)  # type: ignore[operator]
    found = witness(engine, sessions, healthy, T0 + timedelta(seconds=10))
    assert kind in [f.kind for f in found.findings]
    assert (MEMBER, kind) in open_alarms(sessions)
    with sessions.begin() as session:
        kept = load_state(session, MEMBER, ORIGIN)
    assert (kept.size, kept.root) == (good.size, good.root)
    if kind != "audit":
        assert found.to_cosign is None
        (alarm,) = [a for a in list_alarms_of(sessions) if a[0] == kind]
        assert "Verified before:" in alarm[1] and "Served now:" in alarm[1]
    # The next rounds find it again, but the alarm stays one until it is cleared.
    count = alarm_count(sessions)
    witness(engine, sessions, healthy, T0 + timedelta(seconds=20))
    witness(engine, sessions, healthy, T0 + timedelta(seconds=30))
    assert alarm_count(sessions) == count


def list_alarms_of(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions.begin() as session:
        return [(a.kind, a.evidence) for a in list_alarms(session)]


def test_a_cleared_alarm_is_raised_again_when_the_problem_is_still_there(
    engine: Engine, sessions: sessionmaker[Session], healthy: StoreSource
) -> None:
    log_tamper.fork(engine, KEY, ORIGIN)
    witness(engine, sessions, healthy, T0 + timedelta(seconds=10))
    with sessions.begin() as session:
        (alarm,) = list_alarms(session)
        assert clear_alarm(session, alarm.id, T0 + timedelta(seconds=11))
        assert not clear_alarm(session, alarm.id, T0 + timedelta(seconds=12))  # already cleared
    assert open_alarms(sessions) == []
    witness(engine, sessions, healthy, T0 + timedelta(seconds=20))
    with sessions.begin() as session:
        alarms = list_alarms(session)
    assert [(a.kind, a.cleared_at is None) for a in alarms] == [("fork", True), ("fork", False)]
    assert alarms[1].cleared_by == "operator"


def test_an_outage_alarms_once_after_the_configured_time_and_clears_when_it_ends(
    engine: Engine, sessions: sessionmaker[Session], healthy: StoreSource
) -> None:
    healthy.down = True
    for seconds in (10, 20, 35, 50, 70):  # failing from 10 s: the alarm comes at 40 s or later
        witness(engine, sessions, healthy, T0 + timedelta(seconds=seconds))
        expected = [(MEMBER, "unreachable")] if seconds - 10 >= ALARM_AFTER else []
        assert open_alarms(sessions) == expected, seconds
    assert alarm_count(sessions) == 1
    with sessions.begin() as session:
        during = load_state(session, MEMBER, ORIGIN)
    assert during.failing_since == T0 + timedelta(seconds=10)
    assert during.last_error == "connection refused" and during.size == 20

    healthy.down = False
    append(engine, 5)  # it went on logging while the witness could not see it
    back = witness(engine, sessions, healthy, T0 + timedelta(seconds=80))
    assert back.recovered and back.findings == () and back.state.size == 25
    with sessions.begin() as session:
        (alarm,) = list_alarms(session)
        after = load_state(session, MEMBER, ORIGIN)
    assert alarm.cleared_by == "witness" and alarm.cleared_at == T0 + timedelta(seconds=80)
    assert after.failing_since is None and after.last_error == ""

    # A second outage is a second alarm.
    healthy.down = True
    witness(engine, sessions, healthy, T0 + timedelta(seconds=100))
    witness(engine, sessions, healthy, T0 + timedelta(seconds=140))
    assert open_alarms(sessions) == [(MEMBER, "unreachable")] and alarm_count(sessions) == 2


def test_a_log_never_reached_is_kept_as_failing_without_an_alarm_until_it_answers(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    append(engine, 20)
    source = StoreSource(engine)
    source.down = True  # its node has not started yet: nothing of it was ever verified
    for seconds in (0, 20, 45, 300):
        result = witness(engine, sessions, source, T0 + timedelta(seconds=seconds))
        assert result.findings == () and result.failing, seconds
    assert open_alarms(sessions) == [] and alarm_count(sessions) == 0
    with sessions.begin() as session:
        waiting = load_state(session, MEMBER, ORIGIN)
    assert waiting.failing_since == T0 and waiting.last_error == "connection refused"
    assert not waiting.verified

    source.down = False
    up = witness(engine, sessions, source, T0 + timedelta(seconds=310))
    assert up.recovered and up.findings == () and up.to_cosign is not None
    with sessions.begin() as session:
        kept = load_state(session, MEMBER, ORIGIN)
    assert (kept.size, kept.audited_size, kept.failing_since) == (20, 20, None)
    assert alarm_count(sessions) == 0


def test_a_log_that_grows_between_the_checkpoint_and_the_proofs_passes_every_check(
    engine: Engine, sessions: sessionmaker[Session], healthy: StoreSource
) -> None:
    append(engine, 5)
    healthy.grow_after_checkpoint = 9  # the proof and the leaves are read from a bigger tree
    racing = witness(engine, sessions, healthy, T0 + timedelta(seconds=10))
    assert racing.findings == () and not racing.failing
    assert racing.state.size == 25 and racing.state.audited_size == 25
    healthy.grow_after_checkpoint = 0
    caught_up = witness(engine, sessions, healthy, T0 + timedelta(seconds=20))
    assert caught_up.findings == () and caught_up.state.size == 34
    assert alarm_count(sessions) == 0


def test_an_unreachable_alarm_cleared_during_the_outage_is_not_raised_again(
    engine: Engine, sessions: sessionmaker[Session], healthy: StoreSource
) -> None:
    healthy.down = True
    witness(engine, sessions, healthy, T0 + timedelta(seconds=10))
    witness(engine, sessions, healthy, T0 + timedelta(seconds=50))
    with sessions.begin() as session:
        (alarm,) = list_alarms(session)
        clear_alarm(session, alarm.id, T0 + timedelta(seconds=51))
    witness(engine, sessions, healthy, T0 + timedelta(seconds=60))
    assert alarm_count(sessions) == 1 and open_alarms(sessions) == []
