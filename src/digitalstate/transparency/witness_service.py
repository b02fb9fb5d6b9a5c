"""The running witness: every node checks, audits and cosigns the other members' logs.

Every [log] witness_interval_seconds, for each other unrevoked member of the federation, the
node runs witness_round.witness_round over HTTP (log_source.HttpLogSource: the member's
public checkpoint, consistency and leaves routes), keeps what it verified in log_witnessed,
raises alarms in log_alarms (an ERROR log line and a metric too; one open alarm per member and
kind), and sends its cosignature of each newly verified checkpoint to the member (POST
/exchange/v1/log/cosignatures, signed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from digitalstate.exchange.client import ExchangeError
from digitalstate.federation.domain import FederationDocument, Member
from digitalstate.problems import Problem
from digitalstate.storage.threads import run_blocking
from digitalstate.transparency.entries import witness_name
from digitalstate.transparency.log_source import HttpLogSource
from digitalstate.transparency.metrics import log_metrics
from digitalstate.transparency.models import LogAlarm, WitnessedLog
from digitalstate.transparency.note import SignedNote, cosign
from digitalstate.transparency.service import COSIGNATURES_PATH
from digitalstate.transparency.verify import log_identity
from digitalstate.transparency.witness_round import Finding, Round, WatchState, witness_round

if TYPE_CHECKING:
    from digitalstate.node.runtime import NodeRuntime

log = logging.getLogger("digitalstate.transparency.witness")
"""The name docs/transparency.md gives the witness's alarms' logger."""

FETCH_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 3.0
UNREACHABLE = "unreachable"


# --- what the witness keeps ------------------------------------------------------------------


_STATE_FIELDS = [f.name for f in fields(WatchState)]


def load_state(session: Session, member: str, origin: str) -> WatchState:
    """What this node last verified of member's log (an empty state the first time)."""
    row = session.get(WitnessedLog, member)
    if row is None:
        return WatchState(member, origin)
    values = {name: getattr(row, name) for name in _STATE_FIELDS}
    for name in ("root", "audit_root", "audit_border"):
        values[name] = bytes(values[name])
    values["origin"] = origin
    return WatchState(**values)


def witnessed_logs(session: Session) -> list[WatchState]:
    """Every log this node witnesses, by member."""
    rows = session.scalars(select(WitnessedLog).order_by(WitnessedLog.member)).all()
    return [load_state(session, row.member, row.origin) for row in rows]


@dataclass(frozen=True)
class Alarm:
    """A raised alarm, as the operator page and the log line show it."""

    id: int
    at: datetime
    member: str
    kind: str
    detail: str
    evidence: str
    cleared_at: datetime | None
    cleared_by: str


def _alarm(row: LogAlarm) -> Alarm:
    return Alarm(
        row.id,
        row.at,
        row.member,
        row.kind,
        row.detail,
        row.evidence,
        row.cleared_at,
        row.cleared_by,
    )


def save_round(session: Session, result: Round, now: datetime) -> list[Alarm]:
    """Keep a round's state and raise its findings as alarms; return the alarms raised.

    One open alarm per member and kind: a finding already open is not raised again. An
    "unreachable" alarm is raised once per outage, and cleared by the witness when the log
    answers again.
    """
    state = result.state
    row = session.get(WitnessedLog, state.member)
    if row is None:
        row = WitnessedLog(member=state.member)
        session.add(row)
    for name in _STATE_FIELDS:
        if name != "member":
            setattr(row, name, getattr(state, name))
    raised = [
        alarm
        for finding in result.findings
        if (alarm := _raise(session, state, finding, now)) is not None
    ]
    if result.recovered:
        session.execute(
            update(LogAlarm)
            .where(
                LogAlarm.member == state.member,
                LogAlarm.kind == UNREACHABLE,
                LogAlarm.cleared_at.is_(None),
            )
            .values(cleared_at=now, cleared_by="witness")
        )
    return raised


def _raise(session: Session, state: WatchState, finding: Finding, now: datetime) -> Alarm | None:
    same = select(LogAlarm.id).where(LogAlarm.member == state.member, LogAlarm.kind == finding.kind)
    if finding.kind == UNREACHABLE and state.failing_since is not None:
        same = same.where(or_(LogAlarm.cleared_at.is_(None), LogAlarm.at >= state.failing_since))
    else:
        same = same.where(LogAlarm.cleared_at.is_(None))
    if session.execute(same.limit(1)).first() is not None:
        return None
    row = LogAlarm(
        at=now,
        member=state.member,
        kind=finding.kind,
        detail=finding.detail,
        evidence=finding.evidence,
        cleared_by="",
    )
    session.add(row)
    session.flush()
    return _alarm(row)


def set_cosigned(session: Session, member: str, size: int) -> None:
    """Note that this node's cosignature of member's checkpoint of size was taken."""
    session.execute(
        update(WitnessedLog)
        .where(WitnessedLog.member == member, WitnessedLog.cosigned_size < size)
        .values(cosigned_size=size)
    )


def list_alarms(session: Session, limit: int = 200) -> list[Alarm]:
    """Alarms, open ones first, newest first within each."""
    rows = session.scalars(
        select(LogAlarm)
        .order_by(case((LogAlarm.cleared_at.is_(None), 0), else_=1), LogAlarm.id.desc())
        .limit(limit)
    ).all()
    return [_alarm(row) for row in rows]


def clear_alarm(session: Session, alarm_id: int, now: datetime, by: str = "operator") -> bool:
    """Clear an open alarm; False when there is no such open alarm."""
    done = session.execute(
        update(LogAlarm)
        .where(LogAlarm.id == alarm_id, LogAlarm.cleared_at.is_(None))
        .values(cleared_at=now, cleared_by=by)
    )
    return bool(getattr(done, "rowcount", 0))


# --- the node's background task -----------------------------------------------------------


class Witness:
    """One node's witness of every other member's log."""

    def __init__(self, node: NodeRuntime) -> None:
        self.node = node
        self.settings = node.settings.log
        self.metrics = log_metrics(node.metrics)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Witness:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S)
        self._http = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def run(self) -> None:
        """Witness every interval until cancelled; the HTTP session is closed on the way out."""
        async with self:
            while True:
                await asyncio.sleep(self.settings.witness_interval_seconds)
                try:
                    await self.round()
                except Exception:
                    log.exception("a witness round failed; it runs again next interval")

    async def round(self) -> None:
        """Witness each other unrevoked member's log once, all at the same time."""
        try:
            federation = self.node.keeper.current()
        except Problem:
            return  # no valid federation document: nothing can be verified
        own = self.node.settings.node.id
        members = [m for m in federation.members if m.id != own and m.revoked_at is None]
        await asyncio.gather(*(self._watch_guarded(federation, m) for m in members))

    async def _watch_guarded(self, federation: FederationDocument, member: Member) -> None:
        try:
            await self.watch(federation, member)
        except Exception:
            log.exception("witnessing the log of %s failed; it is tried again", member.id)

    async def watch(self, federation: FederationDocument, member: Member) -> Round:
        """One round for one member: check, audit, keep, alarm, cosign."""
        assert self._http is not None, "the witness is not running"
        now = datetime.now(UTC)
        identity = log_identity(federation, member.id, now)
        before = await run_blocking(self._in_session, load_state, member.id, identity.origin)
        result = await witness_round(
            before,
            identity,
            HttpLogSource(self._http, member.base_url),
            now,
            audit_leaves=self.settings.witness_audit_leaves,
            alarm_after=self.settings.witness_alarm_after_seconds,
        )
        raised = await run_blocking(self._in_session, save_round, result, now)
        self._report(before, result, raised)
        if result.to_cosign is not None:
            await self._cosign(federation, result)
        return result

    def _in_session(self, work: Any, *args: Any) -> Any:
        with self.node.sessions.begin() as session:
            return work(session, *args)

    def _report(self, before: WatchState, result: Round, raised: Sequence[Alarm]) -> None:
        member = result.state.member
        if result.failing and before.failing_since is None:
            log.warning(
                "the log of %s cannot be fetched: %s; tried again every %s s",
                member,
                result.state.last_error,
                self.settings.witness_interval_seconds,
            )
        if result.recovered:
            log.info(
                "the log of %s answers again (it failed since %s)", member, before.failing_since
            )
        for alarm in raised:
            log.error("log alarm: member=%s kind=%s: %s", alarm.member, alarm.kind, alarm.detail)
            self.metrics.alarms.labels(member=alarm.member, kind=alarm.kind).inc()
        self.metrics.failing.labels(member=member).set(1 if result.failing else 0)
        if result.state.verified:
            self.metrics.witnessed_size.labels(member=member).set(result.state.size)

    async def _cosign(self, federation: FederationDocument, result: Round) -> None:
        note = result.to_cosign
        assert note is not None
        state = result.state
        size = note.checkpoint.size
        if size == 0 or size <= state.cosigned_size:
            return  # nothing to vouch for, or this node's cosignature was taken already
        own = self.node.settings.node.id
        line = cosign(
            note, witness_name(federation.federation, own), self.node.key, int(time.time())
        )
        body = {"checkpoint": SignedNote(note.text, (line,)).render()}
        try:
            answer = await self.node.client.call(
                state.member, "POST", COSIGNATURES_PATH, json_body=body
            )
        except ExchangeError as exc:
            log.warning("the cosignature of %s's log was not delivered: %s", state.member, exc)
            return
        if not answer.ok:
            log.warning(
                "%s refused this node's cosignature of its checkpoint of size %s: %s %s",
                state.member,
                size,
                answer.status,
                answer.body[:300].decode(errors="replace"),
            )
            return
        await run_blocking(self._in_session, set_cosigned, state.member, size)


async def run_witness(node: NodeRuntime) -> None:
    """The node's witness loop (a background task)."""
    await Witness(node).run()
