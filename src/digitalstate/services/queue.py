"""The staff queue's filters: what a GET form of the queue asks for, checked. Plain computation.

The queue (/staff/applications) is filtered by service, status, channel, the day it was sent
(from, to: GOV.UK date inputs) and a reference search, and paged. Every value comes from the
query string, so each is bounded here: choices outside the lists are dropped, a typed value
that cannot be used is a problem shown in the error summary (linking to its input), and the
rest of the filters still apply.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from digitalstate.web.i18n import N_, _

PAGE_SIZE = 25
MAX_PAGE = 10_000
MAX_REFERENCE_SEARCH = 20
MAX_VALUE = 100  # characters of any other value of the form that are looked at
MAX_VALUES = 10  # values of one name that are looked at (the statuses are five)
DATE_PARTS = ("day", "month", "year")
DATES = {"from": N_("Sent from"), "to": N_("Sent to")}
FIRST_YEAR, LAST_YEAR = 2000, 9999
_SEARCHABLE = re.compile(r"[A-Z0-9-]*")


@dataclass(frozen=True)
class QueueFilters:
    """The filters of one view of the queue (empty: everything), and its page."""

    service: str = ""
    statuses: tuple[str, ...] = ()
    channel: str = ""
    sent_from: date | None = None
    sent_to: date | None = None
    reference: str = ""  # upper case, without spaces: part of a reference number
    page: int = 1

    def only(self, **changes: Any) -> QueueFilters:
        """These filters with changes (service="...", statuses=(...), ...), on the first page."""
        return replace(self, **{"page": 1, **changes})

    def on_page(self, page: int) -> QueueFilters:
        """The same filters on another page."""
        return replace(self, page=page)

    def query(self) -> str:
        """The query string that shows this view ('' for everything on the first page)."""
        pairs: list[tuple[str, str]] = []
        if self.service:
            pairs.append(("service", self.service))
        pairs += [("status", status) for status in self.statuses]
        if self.channel:
            pairs.append(("channel", self.channel))
        for name, day in (("from", self.sent_from), ("to", self.sent_to)):
            if day is not None:
                pairs += [
                    (f"{name}-day", str(day.day)),
                    (f"{name}-month", str(day.month)),
                    (f"{name}-year", str(day.year)),
                ]
        if self.reference:
            pairs.append(("reference", self.reference))
        if self.page != 1:
            pairs.append(("page", str(self.page)))
        return "?" + urlencode(pairs) if pairs else ""

    @property
    def filtered(self) -> bool:
        """True when any filter is set."""
        return self != QueueFilters(page=self.page)


@dataclass
class ParsedFilters:
    """The filters read from a query, the problems of what was typed (input id -> message, in
    the form's order) and the values to show again in the form."""

    filters: QueueFilters
    problems: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)


def parse_filters(
    query: Mapping[str, Sequence[str]],
    *,
    services: Collection[str],
    statuses: Collection[str],
    channels: Collection[str],
) -> ParsedFilters:
    """The queue's filters in query (each name to its values): choices outside services,
    statuses and channels are dropped; a date or reference that cannot be used is a problem."""

    def first(name: str) -> str:
        values = query.get(name) or ()
        return values[0][:MAX_VALUE].strip() if values else ""

    chosen = [value[:MAX_VALUE] for value in (query.get("status") or ())[:MAX_VALUES]]
    problems: dict[str, str] = {}
    typed: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name, label in DATES.items():
        parts = {part: first(f"{name}-{part}") for part in DATE_PARTS}
        typed |= {f"{name}-{part}": value for part, value in parts.items()}
        days[name], problem = _date(parts, _(label))
        if problem is not None:
            problems[f"{name}-day"] = problem
    sent_from, sent_to = days["from"], days["to"]
    if sent_from is not None and sent_to is not None and sent_to < sent_from:
        problems["to-day"] = _("Sent to must be the same as or after sent from")
        sent_to = None
    typed["reference"] = first("reference")
    reference, problem = _reference(typed["reference"])
    if problem is not None:
        problems["reference"] = problem
    page = first("page")
    filters = QueueFilters(
        service=first("service") if first("service") in services else "",
        statuses=tuple(s for s in dict.fromkeys(chosen) if s in statuses),
        channel=first("channel") if first("channel") in channels else "",
        sent_from=sent_from,
        sent_to=sent_to,
        reference=reference,
        page=min(max(int(page[:6]), 1), MAX_PAGE) if _digits(page) else 1,
    )
    return ParsedFilters(filters, problems, typed)


def _date(parts: Mapping[str, str], label: str) -> tuple[date | None, str | None]:
    """The day typed in a date input's parts, or why it is not one (all empty: no day)."""
    if not any(parts.values()):
        return None, None
    if not all(parts.values()):
        missing = [part for part in DATE_PARTS if not parts[part]]
        message = _("%(label)s must include a %(parts)s")
        return None, message % {"label": label, "parts": " and a ".join(missing)}
    real = _("%(label)s must be a real date") % {"label": label}
    if not all(_digits(value) and len(value) <= 4 for value in parts.values()):
        return None, real
    day, month, year = (int(parts[part]) for part in DATE_PARTS)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        message = _("%(label)s must be a real date, in %(year)d or later")
        return None, message % {"label": label, "year": FIRST_YEAR}
    try:
        return date(year, month, day), None
    except ValueError:
        return None, real


def _reference(text: str) -> tuple[str, str | None]:
    """Part of a reference number as searched (upper case, no spaces), or why it cannot be."""
    compact = re.sub(r"\s", "", text).upper()
    if len(compact) > MAX_REFERENCE_SEARCH:
        message = _("Reference number must be %(num)d characters or fewer")
        return "", message % {"num": MAX_REFERENCE_SEARCH}
    if not _SEARCHABLE.fullmatch(compact):
        return "", _("Reference number must only include letters, numbers and hyphens")
    return compact, None


def _digits(text: str) -> bool:
    """True for a non-empty run of the digits 0-9."""
    return text.isascii() and text.isdecimal()


def last_page(total: int, size: int = PAGE_SIZE) -> int:
    """The number of the last page of total items (1 when there are none)."""
    return max(1, -(-total // size))
