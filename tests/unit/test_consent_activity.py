"""Who has seen your data in words: basis-read pairs, filters and the CSV download."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from digitalstate.consent.activity import (
    Activity,
    Filters,
    activity_rows,
    export_csv,
    pair_relays,
)
from digitalstate.federation.catalogue import load_catalogue
from digitalstate.federation.domain import FederationDocument, Member, MemberKey
from digitalstate.keys import KeyPair
from digitalstate.transparency.entries import make_entry
from digitalstate.transparency.person import FAILED, VERIFIED, CheckedEntry

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AT_REGISTER = "registerpseudonym"
KEY = KeyPair.from_seed(bytes(32)).public.b64


def _member(member_id: str, name: str, roles: tuple[str, ...]) -> Member:
    key = MemberKey(public_key=KEY, not_before=NOW - timedelta(days=1))
    return Member(id=member_id, name=name, roles=roles, base_url="http://127.0.0.1:9", keys=(key,))


def _federation() -> FederationDocument:
    catalogue = load_catalogue()
    return FederationDocument(
        federation="unit federation",
        version=1,
        issued_at=NOW - timedelta(minutes=1),
        expires_at=NOW + timedelta(hours=1),
        members=(
            _member("charter", "Charter", ("charter",)),
            _member("people-register", "People register", ("register",)),
            _member("electoral-registration", "Electoral registration office", ("service",)),
        ),
        purposes=catalogue.purposes,
        statutory_bases=catalogue.statutory_bases,
        fields=catalogue.fields,
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
) -> CheckedEntry:
    entry = make_entry(
        holder=log,
        pseudonym=AT_REGISTER,
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
        detail=status,
        checkpoint=None,
        checkpoint_size=1,
    )


def activity(*entries: CheckedEntry) -> Activity:
    found = Activity(
        charter="charter",
        asked=["charter", "people-register"],
        targets={AT_REGISTER: "people-register"},
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
