"""Who has seen your data: the charter gathers every log entry about the person across the
federation, checked.

The charter asks every current register for the entries of its log about the person (under
that register's pseudonym for them: POST /exchange/v1/access-records) and reads its own log's
entries (its relays of reads under a statutory basis, and its refusals of them) from its own
database. Each answer is checked by digitalstate.transparency.person: the checkpoint is the
node's, a witness cosigned it, each entry's bytes are in the tree. disclosure_presenter.py
turns the checked entries into what the page, the filters and the downloads show, in people's
words.

What could not be had is said, never silently dropped: a register that cannot be reached is
"unreachable"; one that answers with a problem (its log is damaged, a proof is out of range,
an answer it did not sign) is a problem with that node's log, which could not be checked; a
register that has left the federation (revoked) is not asked, since its keys are no longer
trusted and nothing it sent could be verified, and is listed as having left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from digitalstate.exchange.client import ExchangeError
from digitalstate.federation.domain import member_name
from digitalstate.identity.service import pseudonym_for
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem, ReceivedProblem
from digitalstate.storage.threads import run_blocking
from digitalstate.transparency.merkle import ProofError
from digitalstate.transparency.person import Activity, check_answer
from digitalstate.transparency.service import ACCESS_RECORDS_PATH, person_entries
from digitalstate.transparency.store import LogDamagedError

log = logging.getLogger(__name__)


async def gather_activity(node: NodeRuntime, person_id: str) -> Activity:
    """Ask every register for its entries about the person, read the charter's, check all."""
    federation = node.keeper.current()
    own = node.settings.node.id
    registers = [m for m in federation.members if "register" in m.roles]
    current = {m.id for m in registers if m.revoked_at is None}
    # Every register's pseudonym, a departed one's too: the charter's own log keeps its relays
    # to it (and refusals of reads from it), and those the charter can still prove.
    pseudonyms = {m.id: pseudonym_for(node, m.id, person_id) for m in registers}
    # The charter's own pseudonym for the person: its refusal of a basis read that named no
    # register is recorded under it (consent/api.py refusal_pseudonym).
    pseudonyms.setdefault(own, pseudonym_for(node, own, person_id))
    activity = Activity(
        charter=own,
        asked=[m.id for m in federation.members if m.id == own or m.id in current],
        targets={p: m for m, p in pseudonyms.items()},
        left=[m.id for m in registers if m.id not in current and m.id != own],
    )
    for gone in activity.left:
        activity.problems.append(
            f"{member_name(federation, gone)} has left the federation: its entries about you "
            "cannot be checked, so they are not shown."
        )
    remote = [m for m in registers if m.id != own and m.id in current]
    now = datetime.now(UTC)  # only keys valid now sign and cosign what the page calls verified
    answers = await asyncio.gather(
        *(ask_for_entries(node, m.id, pseudonyms[m.id]) for m in remote), return_exceptions=True
    )
    for member, answer in zip(remote, answers, strict=True):
        if isinstance(answer, UncheckedError):
            log.warning("the log of %s could not be checked: %s", member.id, answer)
            activity.cannot_check(federation, member.id, str(answer))
        elif isinstance(answer, BaseException):
            log.warning("the log entries of %s are not available: %s", member.id, answer)
            activity.unreachable.append(member.id)
        else:
            activity.add(check_answer(federation, member.id, answer, pseudonyms[member.id], now))
    try:
        ours = await run_blocking(_own_answers, node, list(pseudonyms.values()))
    except (LogDamagedError, ProofError) as exc:
        log.error("this node's own log cannot give its proofs: %s", exc)
        activity.cannot_check(federation, own, f"it is damaged ({exc})")
    else:
        for pseudonym, answer in ours:
            activity.add(check_answer(federation, own, answer, pseudonym, now))
    activity.entries.sort(key=lambda c: (c.entry.at, c.log, c.leaf_index or 0), reverse=True)
    return activity


class UncheckedError(Exception):
    """A node answered the charter, but not with its entries: its log could not be checked.

    Distinct from a node that could not be reached (ExchangeError): the message says why, in
    people's words ("it says its log is damaged (...)").
    """


def unchecked_reason(
    status: int | None, problem: ReceivedProblem | None, *, signed: bool = True
) -> str:
    """Why a node's answer with a problem leaves its log unchecked, in people's words."""
    slug = detail = ""
    if problem is not None:
        slug = problem.slug
        detail = problem.detail or problem.title or ""
    if slug == "log-damaged" and signed:
        return f"it says its log is damaged ({detail})" if detail else "it says its log is damaged"
    said = " ".join(str(part) for part in (status, slug) if part)
    if detail:
        said = f"{said}: {detail}" if said else detail
    what = "an error" if signed else "an error it did not sign"
    return f"it answered with {what} ({said})" if said else f"it answered with {what}"


async def ask_for_entries(node: NodeRuntime, member_id: str, pseudonym: str) -> Any:
    """Ask member_id for its entries about pseudonym: its answer, parsed.

    Raises ExchangeError when no answer came (unreachable), UncheckedError when it answered
    with anything but its entries (a problem, an answer it did not sign, not JSON).
    """
    try:
        response = await node.client.call(
            member_id, "POST", ACCESS_RECORDS_PATH, json_body={"subject": pseudonym}
        )
    except ExchangeError as exc:
        if exc.problem is not None:  # it answered, with a problem it did not sign
            raise UncheckedError(unchecked_reason(None, exc.problem, signed=False)) from exc
        if isinstance(exc.__cause__, Problem):  # it answered, with a signature that fails
            raise UncheckedError(f"its answer cannot be trusted ({exc.__cause__.detail})") from exc
        raise  # no answer came: unreachable
    if not response.ok:
        raise UncheckedError(unchecked_reason(response.status, response.problem()))
    try:
        return response.json()
    except ValueError as exc:
        raise UncheckedError("its answer is not JSON") from exc


def _own_answers(node: NodeRuntime, pseudonyms: Sequence[str]) -> list[tuple[str, Any]]:
    with node.engine.connect() as db:
        return [(p, person_entries(db, p)) for p in pseudonyms]
