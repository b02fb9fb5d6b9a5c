"""Who has seen your data, in people's words: the filters, the page's rows and the downloads.

Pure: disclosure.py gathers and checks the entries about the person (an Activity); this turns
them into what the page, the filters and the downloads show.

A read under a statutory basis leaves two entries: the charter's (it relayed the read) and the
register's (it answered it). The page shows the pair as one access with both records and both
verification results; the downloads keep every entry on its own, as each log holds it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from digitalstate.federation.domain import (
    FederationDocument,
    field_label,
    member_name,
    purpose_title,
)
from digitalstate.publishing.domain import spreadsheet_safe
from digitalstate.transparency.person import (
    FAILED,
    PENDING,
    VERIFIED,
    Activity,
    CheckedEntry,
    worst,
)
from digitalstate.web.i18n import N_, _

ACTION_LABELS = {
    "read": N_("Read with your consent"),
    "basis-read": N_("Read under a statutory basis"),
    "refused": N_("Refused"),
    "notified": N_("Told your details changed"),
    "consent-given": N_("Consent recorded"),
    "consent-withdrawn": N_("Withdrawal recorded"),
}
"""The actions a person can filter by, in their words, in the order the filter lists them."""
STATUS_LABELS = {
    VERIFIED: N_("Verified"),
    PENDING: N_("Not yet verified"),
    FAILED: N_("Failed verification"),
}
STATUS_TAGS = {VERIFIED: "govuk-tag--green", PENDING: "govuk-tag--yellow", FAILED: "govuk-tag--red"}
OUTCOME_LABELS = {
    "allowed": N_("Allowed"),
    "refused": N_("Refused"),
    "failed": N_("Failed"),
    "recorded": N_("Recorded"),
    "delivered": N_("Delivered"),
}
STAFF_REQUESTER = "staff:"  # a requester of the holder's own staff: staff:<account id>
STAFF_WORDS = {
    "staff-viewed-application": N_("A member of staff at %(register)s opened your application"),
    "staff-downloaded-file": N_("A member of staff at %(register)s downloaded a file you sent"),
    "staff-marked-in-review": N_(
        "A member of staff at %(register)s started reviewing your application"
    ),
    "staff-decided": N_("A member of staff at %(register)s decided your application"),
    "staff-added-note": N_("A member of staff at %(register)s added a note to your application"),
    "staff-started-assisted": N_(
        "A member of staff at %(register)s started an application with you"
    ),
    "staff-submitted-assisted": N_(
        "A member of staff at %(register)s sent an application with you"
    ),
}
"""What a staff entry about the person's application says happened, at the node where."""
PAIR_WINDOW = timedelta(minutes=2)
"""How far apart the charter's relay and the register's record of one basis read may be."""
HOW_TO_VERIFY = (
    "Each entry is the exact text its node hashed into its log. Its leaf hash is "
    "SHA-256(0x00 || the entry's UTF-8 bytes); with the inclusion proof (RFC 9162) it gives the "
    "root hash of the checkpoint, a C2SP signed note signed by the node's key and cosigned by "
    "other nodes as witnesses. The keys are in the federation document at "
    "/.well-known/digitalstate/federation."
)
CSV_COLUMNS = (
    "at",
    "node",
    "node_name",
    "requester",
    "requester_name",
    "action",
    "what",
    "fields",
    "purpose",
    "purpose_title",
    "consent_id",
    "basis_id",
    "legislation",
    "outcome",
    "reason",
    "status",
    "status_detail",
    "leaf_index",
    "checkpoint_size",
    "witnesses",
)


# --- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the person chose to see: one node, purpose and action each, or all."""

    node: str | None = None
    purpose: str | None = None
    action: str | None = None

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Filters:
        """The filters in a page's query string (empty values mean all)."""
        return cls(
            node=query.get("node") or None,
            purpose=query.get("purpose") or None,
            action=query.get("action") or None,
        )

    @property
    def active(self) -> bool:
        """True when anything is filtered out."""
        return any((self.node, self.purpose, self.action))

    def matches(self, checked: CheckedEntry) -> bool:
        """True when the entry passes every filter."""
        return (
            (self.node is None or checked.log == self.node)
            and (self.purpose is None or checked.entry.purpose == self.purpose)
            and (self.action is None or checked.entry.action == self.action)
        )

    def query(self) -> str:
        """The filters as a query string ('' when none), for the download links."""
        values = {"node": self.node, "purpose": self.purpose, "action": self.action}
        chosen = {k: v for k, v in values.items() if v}
        return "?" + urlencode(chosen) if chosen else ""

    def as_json(self) -> dict[str, str | None]:
        """The filters, for the JSON download."""
        return {"node": self.node, "purpose": self.purpose, "action": self.action}


@dataclass(frozen=True)
class Option:
    """One choice of a filter."""

    value: str
    label: str


@dataclass(frozen=True)
class FilterOptions:
    """The choices of each filter."""

    nodes: list[Option]
    purposes: list[Option]
    actions: list[Option]

    def selects(self, chosen: Filters) -> list[dict[str, Any]]:
        """The three filters as govukSelect parameters, each with its label and "all" choice."""
        return [
            _select("node", _("Recorded by"), _("All nodes"), self.nodes, chosen.node),
            _select("purpose", _("Why"), _("All reasons"), self.purposes, chosen.purpose),
            _select("action", _("What happened"), _("Everything"), self.actions, chosen.action),
        ]


def _select(
    name: str, label: str, everything: str, options: Sequence[Option], chosen: str | None
) -> dict[str, Any]:
    items = [{"value": "", "text": everything, "selected": chosen is None}]
    items += [{"value": o.value, "text": o.label, "selected": o.value == chosen} for o in options]
    return {"id": name, "name": name, "label": {"text": label}, "items": items}


def filter_options(
    federation: FederationDocument, activity: Activity, chosen: Filters
) -> FilterOptions:
    """The nodes asked, the purposes of the person's entries, and every action, in words."""
    nodes = [Option(m, member_name(federation, m)) for m in activity.asked]
    codes = {c.entry.purpose for c in activity.entries if c.entry.purpose} | (
        {chosen.purpose} if chosen.purpose else set()
    )
    purposes = sorted(
        (Option(code, purpose_title(federation, code)) for code in codes),
        key=lambda o: o.label,
    )
    actions = [Option(code, _(label)) for code, label in ACTION_LABELS.items()]
    return FilterOptions(nodes, purposes, actions)


# --- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordView:
    """Where one access was recorded, and whether that record checked."""

    node: str
    node_name: str
    leaf_index: int | None
    status: str
    detail: str

    @property
    def status_label(self) -> str:
        """The status in words, for its tag."""
        return _(STATUS_LABELS[self.status])

    @property
    def status_tag(self) -> str:
        """The tag class (the words say it too: the colour is not the only sign)."""
        return STATUS_TAGS[self.status]


@dataclass(frozen=True)
class ActivityView:
    """One access to the person's data, as the page shows it: one or two log records."""

    at: datetime
    who: str
    what: str
    fields: list[str]
    why: str
    consent_id: str | None
    basis_id: str | None
    legislation: str | None
    outcome: str
    reason: str
    refused: bool
    records: tuple[RecordView, ...]
    entries: tuple[CheckedEntry, ...]

    @property
    def status(self) -> str:
        """The least trustworthy status of its records."""
        return worst([r.status for r in self.records])

    @property
    def status_label(self) -> str:
        """The row's status in words."""
        return _(STATUS_LABELS[self.status])


def requester_name(federation: FederationDocument, requester: str, holder: str) -> str:
    """Who asked, in words: a member's name, or the staff of the holder (never the account)."""
    if requester.startswith(STAFF_REQUESTER):
        return f"Staff at {member_name(federation, holder)}"
    return member_name(federation, requester)


def describe_action(
    action: str, outcome: str, where: str, *, relayed: bool = False, by_charter: bool = False
) -> str:
    """What happened, in words, at the register called where.

    relayed: the charter relayed a read under a statutory basis to where; by_charter: the
    charter refused such a read before it reached where ('' when no register was named).
    """
    if by_charter:
        if not where:
            return _(
                "Tried to read your details under a statutory basis, and was refused by the charter"
            )
        return _(
            "Tried to read from %(register)s under a statutory basis, and was refused by the "
            "charter"
        ) % {"register": where}
    if relayed:
        if outcome == "allowed":
            done = _("Read from %(register)s under a statutory basis, through the charter")
        else:
            done = _("Tried to read from %(register)s under a statutory basis, through the charter")
        return done % {"register": where}
    if action in STAFF_WORDS:
        return _(STAFF_WORDS[action]) % {"register": where}
    wording = {
        "read": N_("Read from %(register)s"),
        "basis-read": N_("Read from %(register)s under a statutory basis"),
        "refused": N_("Was refused by %(register)s"),
        "notified": N_("Was told by %(register)s that your details changed"),
        "consent-given": N_("Your consent was recorded at %(register)s"),
        "consent-withdrawn": N_("Your withdrawal was recorded at %(register)s"),
    }.get(action)
    if wording is None:
        return _("%(action)s at %(register)s") % {"action": action, "register": where}
    return _(wording) % {"register": where}


def _record(federation: FederationDocument, checked: CheckedEntry) -> RecordView:
    return RecordView(
        checked.log,
        member_name(federation, checked.log),
        checked.leaf_index,
        checked.status,
        checked.detail,
    )


def _is_relay(activity: Activity, checked: CheckedEntry) -> bool:
    return checked.log == activity.charter and checked.entry.action == "basis-read"


def _is_charter_refusal(activity: Activity, checked: CheckedEntry) -> bool:
    """The charter refused a read under a statutory basis itself: it never reached a register."""
    entry = checked.entry
    return checked.log == activity.charter and entry.action == "refused" and not entry.consent_id


def _what(
    federation: FederationDocument, activity: Activity, checked: CheckedEntry, *, relayed: bool
) -> str:
    """What happened, in words: at the register the entry concerns, or that recorded it."""
    entry = checked.entry
    if _is_charter_refusal(activity, checked):
        target = _target(activity, checked)
        where = "" if target == activity.charter else member_name(federation, target)
        return describe_action(entry.action, entry.outcome, where, by_charter=True)
    where = member_name(federation, _target(activity, checked) if relayed else checked.log)
    return describe_action(entry.action, entry.outcome, where, relayed=relayed)


def _target(activity: Activity, checked: CheckedEntry) -> str:
    """The register a relay went to: the one whose pseudonym it was asked under."""
    return activity.targets.get(checked.entry.pseudonym, checked.entry.holder)


def pair_relays(
    activity: Activity, entries: Sequence[CheckedEntry]
) -> list[tuple[CheckedEntry, CheckedEntry | None]]:
    """Each entry with the charter's relay of the same basis read, when there is one.

    A register's record of a basis read (read or refused) and the charter's relay of it agree
    on the pseudonym, requester, purpose, basis and fields, and lie within PAIR_WINDOW; the
    nearest in time pairs. Whatever does not pair stands alone: nothing is hidden.
    """
    relays = [c for c in entries if _is_relay(activity, c) and c.entry.outcome != "failed"]
    taken: set[int] = set()
    partner: dict[int, CheckedEntry] = {}
    for relay in relays:
        best: tuple[timedelta, int] | None = None
        for i, held in enumerate(entries):
            if i in taken or not _answers(activity, relay, held):
                continue
            gap = abs(held.entry.at - relay.entry.at)
            if gap <= PAIR_WINDOW and (best is None or gap < best[0]):
                best = (gap, i)
        if best is not None:
            taken.add(best[1])
            partner[best[1]] = relay
    paired = {id(r) for r in partner.values()}
    return [(c, partner.get(i)) for i, c in enumerate(entries) if id(c) not in paired]


def _answers(activity: Activity, relay: CheckedEntry, held: CheckedEntry) -> bool:
    a, b = relay.entry, held.entry
    return (
        held.log != activity.charter
        and held.log == _target(activity, relay)
        and b.action in ("basis-read", "refused")
        and b.basis_id is not None
        and (a.pseudonym, a.requester, a.purpose, a.basis_id)
        == (b.pseudonym, b.requester, b.purpose, b.basis_id)
        and set(a.fields) == set(b.fields)
    )


def activity_view(
    federation: FederationDocument,
    activity: Activity,
    checked: CheckedEntry,
    relay: CheckedEntry | None = None,
) -> ActivityView:
    """One access in words: an entry, with the charter's relay of it when there is one."""
    entry = checked.entry
    relayed = relay is not None or _is_relay(activity, checked)
    basis = next((b for b in federation.statutory_bases if b.id == entry.basis_id), None)
    records = (checked, relay) if relay is not None else (checked,)
    return ActivityView(
        at=entry.at.astimezone(UTC),
        who=requester_name(federation, entry.requester, entry.holder),
        what=_what(federation, activity, checked, relayed=relayed),
        fields=[field_label(federation, f) for f in entry.fields],
        why=purpose_title(federation, entry.purpose),
        consent_id=entry.consent_id,
        basis_id=entry.basis_id,
        legislation=basis.legislation if basis is not None else None,
        outcome=_(OUTCOME_LABELS[entry.outcome])
        if entry.outcome in OUTCOME_LABELS
        else entry.outcome,
        reason=entry.reason,
        refused=entry.outcome not in ("allowed", "recorded", "delivered"),
        records=tuple(_record(federation, c) for c in records),
        entries=records,
    )


def activity_rows(
    federation: FederationDocument, activity: Activity, chosen: Filters
) -> list[ActivityView]:
    """The accesses the page lists, newest first: pairs joined, filters applied."""
    rows = [
        activity_view(federation, activity, checked, relay)
        for checked, relay in pair_relays(activity, activity.entries)
    ]
    return [r for r in rows if any(chosen.matches(c) for c in r.entries)]


@dataclass(frozen=True)
class Counts:
    """How many of the listed accesses have each status."""

    verified: int
    pending: int
    failed: int


def counts(rows: Iterable[ActivityView]) -> Counts:
    """The statuses of rows, counted."""
    statuses = [r.status for r in rows]
    return Counts(statuses.count(VERIFIED), statuses.count(PENDING), statuses.count(FAILED))


# --- the downloads ---------------------------------------------------------------------------


def _plain(
    federation: FederationDocument, activity: Activity, checked: CheckedEntry
) -> dict[str, Any]:
    entry = checked.entry
    basis = next((b for b in federation.statutory_bases if b.id == entry.basis_id), None)
    return {
        "at": entry.at.astimezone(UTC).isoformat(),
        "node": checked.log,
        "node_name": member_name(federation, checked.log),
        "requester": entry.requester,
        "requester_name": requester_name(federation, entry.requester, entry.holder),
        "action": entry.action,
        "what": _what(federation, activity, checked, relayed=_is_relay(activity, checked)),
        "fields": list(entry.fields),
        "purpose": entry.purpose,
        "purpose_title": purpose_title(federation, entry.purpose) or None,
        "consent_id": entry.consent_id,
        "basis_id": entry.basis_id,
        "legislation": basis.legislation if basis is not None else None,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "status": checked.status,
        "status_detail": checked.detail,
        "leaf_index": checked.leaf_index,
        "checkpoint_size": checked.checkpoint_size,
        "witnesses": list(checked.witnesses),
    }


def downloads(activity: Activity, chosen: Filters) -> list[CheckedEntry]:
    """The entries a download holds: every entry on its own, filters applied, newest first."""
    return [c for c in activity.entries if chosen.matches(c)]


def export_json(
    federation: FederationDocument, activity: Activity, chosen: Filters, now: datetime
) -> str:
    """The JSON download: each entry in words, with its exact text, proof and checkpoint."""
    entries = [
        {
            **_plain(federation, activity, c),
            "entry": c.text,
            "proof": list(c.proof) if c.proof is not None else None,
            "checkpoint": c.checkpoint,
        }
        for c in downloads(activity, chosen)
    ]
    document = {
        "generated_at": now.astimezone(UTC).isoformat(),
        "filters": chosen.as_json(),
        "how_to_verify": HOW_TO_VERIFY,
        "entries": entries,
        "unreachable": [
            {"node": m, "node_name": member_name(federation, m)} for m in activity.unreachable
        ],
        "unchecked": [
            {"node": m, "node_name": member_name(federation, m), "reason": why}
            for m, why in activity.unchecked.items()
        ],
        "left_federation": [
            {"node": m, "node_name": member_name(federation, m)} for m in activity.left
        ],
        "problems": list(activity.problems),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    # A spreadsheet runs a cell that starts like a formula: keep it text.
    return spreadsheet_safe(str(value))


def export_csv(federation: FederationDocument, activity: Activity, chosen: Filters) -> str:
    """The CSV download: one row per entry, in words, with its verification status."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for checked in downloads(activity, chosen):
        plain = _plain(federation, activity, checked)
        writer.writerow([_cell(plain[column]) for column in CSV_COLUMNS])
    return out.getvalue()
