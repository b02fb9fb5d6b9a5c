"""How a register's values read on a page: each value as lines of plain text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from digitalstate.registers.domain import format_nino, format_phone
from digitalstate.web.i18n import N_, _, format_day

NOT_HELD = N_("Not held")


def display_date(value: date) -> str:
    """A date as GOV.UK writes it, in the page's language: '27 March 1980'."""
    return format_day(value)


def display_lines(field_type: str, value: Any) -> list[str]:
    """The value of a field of field_type as lines of text for a summary list."""
    if value is None or value == [] or value == "":
        return [_(NOT_HELD)]
    if field_type == "uk-address" and isinstance(value, Mapping):
        return [*value.get("lines", []), value.get("town", ""), value.get("postcode", "")]
    if field_type == "date" and isinstance(value, str):
        try:
            return [display_date(date.fromisoformat(value))]
        except ValueError:
            return [value]
    if field_type == "phone" and isinstance(value, str):
        return [format_phone(value)]
    if field_type == "nino" and isinstance(value, str) and len(value) == 9:
        return [format_nino(value)]
    if field_type == "bank-account" and isinstance(value, Mapping):
        account = str(value.get("account_number", ""))
        return [
            _("Sort code %(code)s") % {"code": value.get("sort_code", "")},
            _("Account number ending %(digits)s") % {"digits": account[-4:]},
        ]
    if isinstance(value, list):
        return [_item_text(item) for item in value]
    return [str(value)]


def _item_text(item: Any) -> str:
    if isinstance(item, Mapping):
        if "registration" in item:
            described = " ".join(str(item[k]) for k in ("colour", "make", "model") if item.get(k))
            return (
                f"{item['registration']}: {described}" if described else str(item["registration"])
            )
        return ", ".join(str(v) for v in item.values())
    return str(item)
