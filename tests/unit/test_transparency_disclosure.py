"""Who has seen your data in words: basis-read pairs, refusals by the charter, what could not
be checked, filters and the downloads."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digitalstate.exchange.client import ExchangeError, ExchangeResponse
from digitalstate.federation.domain import FederationDocument
from digitalstate.keys import KeyPair
from digitalstate.problems import PROBLEM_BASE, Problem, ReceivedProblem, read_problem
from digitalstate.transparency.disclosure import (
    UncheckedError,
    ask_for_entries,
    unchecked_reason,
)
from digitalstate.transparency.disclosure_presenter import (
    Filters,
    activity_rows,
    export_csv,
    export_json,
    pair_relays,
)
from digitalstate.transparency.entries import make_entry
from digitalstate.transparency.person import FAILED, VERIFIED, Activity, CheckedEntry
from support.federation import federation_document, member

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AT_REGISTER = "registerpseudonym"
AT_CHARTER = "charterpseudonym"
KEY = KeyPair.from_seed(bytes(32)).public.b64


def _federation() -> FederationDocument:
    since = NOW - timedelta(days=1)
    return federation_document(
        (
            member("charter", KEY, name="Charter", roles=("charter",), since=since),
            member("people-register", KEY, name="People register", since=since),
            member(
                "electoral-registration",
                KEY,
                name="Electoral registration office",
                roles=("service",),
                since=since,
            ),
        ),
        federation="unit federation",
        now=NOW,
    )


FEDERATION = _federation()


def checked(
    log: str,
    *,
    action: str = "basis-read",
    outcome: str = "allowed",
    seconds: float = 0,
    status: str = VERIFIED,
    reason: str = "",
    fields: tuple[str, ...] = ("people.address",),
    pseudonym: str = AT_REGISTER,
    detail: str | None = None,
) -> CheckedEntry:
    entry = make_entry(
        holder=log,
        pseudonym=pseudonym,
        requester="electoral-registration",
        action=action,
        outcome=outcome,
        now=NOW + timedelta(seconds=seconds),
        purpose="electoral-registration",
        basis_id="electoral-canvass",
        fields=fields,
        reason=reason,
    )
    return CheckedEntry(
        log=log,
        text=entry.encode().decode(),
        entry=entry,
        leaf_index=0,
        proof=(),
        status=status,
        detail=detail or status,
        checkpoint=None,
        checkpoint_size=1,
    )


def activity(*entries: CheckedEntry) -> Activity:
    found = Activity(
        charter="charter",
        asked=["charter", "people-register"],
        targets={AT_REGISTER: "people-register", AT_CHARTER: "charter"},
    )
    found.entries = sorted(entries, key=lambda c: c.entry.at, reverse=True)
    return found


def test_the_charters_relay_and_the_registers_read_are_one_access_with_two_records() -> None:
    relay = checked("charter", seconds=0.2, reason="relayed to people-register")
    held = checked("people-register", status=FAILED)

    (row,) = activity_rows(FEDERATION, activity(relay, held), Filters())

    assert row.what == "Read from People register under a statutory basis, through the charter"
    assert [(r.node, r.status) for r in row.records] == [
        ("people-register", FAILED),
        ("charter", VERIFIED),
    ]
    assert row.status == FAILED  # the least trustworthy record decides
    assert row.legislation is not None and row.legislation.startswith("Representation")


def test_a_refusal_by_the_register_pairs_with_the_relay_that_was_refused() -> None:
    relay = checked("charter", outcome="refused", seconds=0.2, reason="not held")
    held = checked("people-register", action="refused", outcome="refused", reason="not held")

    (row,) = activity_rows(FEDERATION, activity(relay, held), Filters())

    assert (
        row.what
        == "Tried to read from People register under a statutory basis, through the charter"
    )
    assert row.refused and row.reason == "not held"


def test_what_does_not_agree_stands_alone() -> None:
    relay = checked("charter", seconds=0.2)
    other_fields = checked("people-register", fields=("people.date_of_birth",))
    too_late = checked("people-register", seconds=600)
    failed_relay = checked("charter", outcome="failed", seconds=1, reason="unreachable")
    entries = [relay, other_fields, too_late, failed_relay]

    pairs = pair_relays(activity(*entries), sorted(entries, key=lambda c: -c.entry.at.timestamp()))

    assert all(partner is None for _, partner in pairs)
    assert len(pairs) == 4
    rows = activity_rows(FEDERATION, activity(*entries), Filters())
    assert [r.what for r in rows] == [
        "Read from People register under a statutory basis",
        "Tried to read from People register under a statutory basis, through the charter",
        "Read from People register under a statutory basis, through the charter",
        "Read from People register under a statutory basis",
    ]


def test_each_relay_pairs_with_the_nearest_read_once() -> None:
    first = checked("charter", seconds=0.2)
    second = checked("charter", seconds=5.2)
    reads = [checked("people-register"), checked("people-register", seconds=5)]

    rows = activity_rows(FEDERATION, activity(first, second, *reads), Filters())

    assert [len(r.records) for r in rows] == [2, 2]
    assert [r.entries[1].entry.at for r in rows] == [second.entry.at, first.entry.at]


def test_a_filter_keeps_a_pair_when_either_record_matches() -> None:
    pair = activity(checked("charter", seconds=0.2), checked("people-register"))

    assert len(activity_rows(FEDERATION, pair, Filters(node="charter"))) == 1
    assert len(activity_rows(FEDERATION, pair, Filters(action="read"))) == 0
    assert Filters(node="charter", action="read").query() == "?node=charter&action=read"
    assert Filters().query() == ""


def test_the_csv_keeps_a_cell_that_looks_like_a_formula_as_text() -> None:
    found = activity(checked("people-register", action="refused", reason="=HYPERLINK(1)"))

    (row,) = list(csv.DictReader(io.StringIO(export_csv(FEDERATION, found, Filters()))))

    assert row["reason"] == "'=HYPERLINK(1)"
    assert row["status"] == "verified"
    assert row["legislation"].startswith("Representation of the People Act 1983")


# --- refusals by the charter -----------------------------------------------------------------


def test_a_refusal_by_the_charter_names_the_register_and_pairs_with_nothing() -> None:
    refused = checked("charter", action="refused", outcome="refused", reason="basis is for X")
    # A register's refusal that agrees on everything still is another access: the charter's
    # refusal never reached a register, so it is no relay.
    held = checked("people-register", action="refused", outcome="refused", seconds=0.1)

    rows = activity_rows(FEDERATION, activity(refused, held), Filters())

    assert [r.what for r in rows] == [
        "Was refused by People register",
        "Tried to read from People register under a statutory basis, and was refused by the "
        "charter",
    ]
    charter_row = rows[1]
    assert charter_row.refused and charter_row.reason == "basis is for X"
    assert [r.node for r in charter_row.records] == ["charter"]
    assert len(activity_rows(FEDERATION, activity(refused), Filters(action="refused"))) == 1


def test_a_refusal_by_the_charter_that_named_no_register_says_your_details() -> None:
    refused = checked("charter", action="refused", outcome="refused", pseudonym=AT_CHARTER)

    (row,) = activity_rows(FEDERATION, activity(refused), Filters())
    (line,) = list(
        csv.DictReader(io.StringIO(export_csv(FEDERATION, activity(refused), Filters())))
    )

    expected = "Tried to read your details under a statutory basis, and was refused by the charter"
    assert row.what == line["what"] == expected
    assert line["node"] == "charter" and line["action"] == "refused"


def test_a_relay_still_pairs_beside_a_refusal_by_the_charter() -> None:
    refused = checked("charter", action="refused", outcome="refused", seconds=0.1)
    relay = checked("charter", seconds=0.2)
    held = checked("people-register")

    rows = activity_rows(FEDERATION, activity(refused, relay, held), Filters())

    # Newest first: the pair stands where the register's entry does.
    assert [len(r.records) for r in rows] == [1, 2]
    assert rows[0].what.endswith("and was refused by the charter")
    assert rows[1].what.endswith("through the charter")


# --- what could not be checked ---------------------------------------------------------------


def test_a_failed_entry_shows_why_on_the_page_and_in_the_downloads() -> None:
    why = "People register could not give this entry's proof: its log is damaged at leaf 3."
    damaged = checked("people-register", action="read", status=FAILED, detail=why)
    found = activity(damaged)

    (row,) = activity_rows(FEDERATION, found, Filters())
    (line,) = list(csv.DictReader(io.StringIO(export_csv(FEDERATION, found, Filters()))))

    assert row.status == FAILED and [r.detail for r in row.records] == [why]
    assert line["status"] == FAILED and line["status_detail"] == why


def test_the_json_download_names_what_could_not_be_checked_and_who_left() -> None:
    found = activity()
    found.unreachable = ["electoral-registration"]
    found.cannot_check(FEDERATION, "people-register", "it says its log is damaged (leaf 3)")
    found.left = ["people-register"]

    listed = json.loads(export_json(FEDERATION, found, Filters(), NOW))

    assert listed["unreachable"] == [
        {"node": "electoral-registration", "node_name": "Electoral registration office"}
    ]
    assert listed["unchecked"] == [
        {
            "node": "people-register",
            "node_name": "People register",
            "reason": "it says its log is damaged (leaf 3)",
        }
    ]
    assert listed["left_federation"] == [
        {"node": "people-register", "node_name": "People register"}
    ]
    assert listed["problems"] == [
        "People register's log could not be checked: it says its log is damaged (leaf 3)."
    ]


def _problem(slug: str, detail: str) -> dict[str, Any]:
    return {"type": PROBLEM_BASE + slug, "title": "t", "status": 500, "detail": detail}


def _received(slug: str, detail: str) -> ReceivedProblem | None:
    return read_problem(json.dumps(_problem(slug, detail)))


@pytest.mark.parametrize(
    ("status", "problem", "signed", "words"),
    [
        (
            500,
            _received("log-damaged", "no node 3"),
            True,
            "it says its log is damaged (no node 3)",
        ),
        (
            400,
            _received("proof-out-of-range", "index 9 is beyond 4"),
            True,
            "it answered with an error (400 proof-out-of-range: index 9 is beyond 4)",
        ),
        (502, None, True, "it answered with an error (502)"),
        (
            None,
            _received("log-damaged", "no node 3"),
            False,
            "it answered with an error it did not sign (log-damaged: no node 3)",
        ),
    ],
)
def test_an_answer_with_a_problem_is_said_in_words(
    status: int | None, problem: ReceivedProblem | None, signed: bool, words: str
) -> None:
    assert unchecked_reason(status, problem, signed=signed) == words


@dataclass
class _Client:
    """Answers every call with one response, or raises one error."""

    answer: ExchangeResponse | Exception

    async def call(self, *args: Any, **kwargs: Any) -> ExchangeResponse:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@dataclass
class _Node:
    client: _Client


def _answer(status: int, body: Any) -> ExchangeResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ExchangeResponse(status, {"content-type": "application/json"}, data)


def _ask(answer: ExchangeResponse | Exception) -> Any:
    node: Any = _Node(_Client(answer))
    return asyncio.run(ask_for_entries(node, "people-register", AT_REGISTER))


def _untrusted() -> ExchangeError:
    try:
        raise Problem("signature-invalid", "the signature does not verify")
    except Problem as cause:
        try:
            raise ExchangeError("the answer cannot be trusted") from cause
        except ExchangeError as error:
            return error


def test_only_an_answer_that_never_came_is_unreachable() -> None:
    assert _ask(_answer(200, {"checkpoint": None, "entries": []})) == {
        "checkpoint": None,
        "entries": [],
    }
    with pytest.raises(ExchangeError):
        _ask(ExchangeError("people-register at http://127.0.0.1:9 did not answer"))
    cases: dict[str, ExchangeResponse | Exception] = {
        "it says its log is damaged (no node 3)": _answer(
            500, _problem("log-damaged", "no node 3")
        ),
        "it answered with an error (400 proof-out-of-range: too far)": _answer(
            400, _problem("proof-out-of-range", "too far")
        ),
        "it answered with an error it did not sign (internal-error: oops)": ExchangeError(
            "unsigned", _received("internal-error", "oops")
        ),
        "its answer cannot be trusted (the signature does not verify)": _untrusted(),
        "its answer is not JSON": _answer(200, b"<html>"),
    }
    for words, answer in cases.items():
        with pytest.raises(UncheckedError) as raised:
            _ask(answer)
        assert str(raised.value) == words


def test_a_staff_action_on_the_persons_application_says_staff_of_the_node_never_the_account() -> (
    None
):
    entry = make_entry(
        holder="people-register",
        pseudonym=AT_REGISTER,
        requester="staff:2f1c0c9e-8a1b-4a57-9d0e-2b7f3c4d5e6f",
        action="staff-decided",
        outcome="recorded",
        now=NOW,
        purpose="electoral-registration",
        reason="RTV-7KD4-MX2Q-P approved",
    )
    seen = CheckedEntry(
        log="people-register",
        text=entry.encode().decode(),
        entry=entry,
        leaf_index=0,
        proof=(),
        status=VERIFIED,
        detail=VERIFIED,
        checkpoint=None,
        checkpoint_size=1,
    )

    [row] = activity_rows(FEDERATION, activity(seen), Filters())

    assert row.who == "Staff at People register"
    assert row.what == "A member of staff at People register decided your application"
    assert not row.refused and row.reason == "RTV-7KD4-MX2Q-P approved"
    [plain] = json.loads(export_json(FEDERATION, activity(seen), Filters(), NOW))["entries"]
    assert plain["requester_name"] == "Staff at People register"
