"""The values a register holds: one validator per field type of the federation's catalogue.

Each validator takes what a person or a node sent and returns the value in its one normal form
(what the register stores and answers with), or raises FieldError with a message written for a
GOV.UK error summary. Plain computation: no web framework, no database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import phonenumbers

from digitalstate.mail.domain import ADDRESS_MESSAGE, parse_address
from digitalstate.web.i18n import N_, _

MAX_LINE = 100
MAX_STRING = 500
MAX_LIST_ITEMS = 100

# The UK Government Data Standards postcode pattern (BS 7666), with a single space before the
# inward code. GIR 0AA (Girobank) is the one exception it allows; BFPO numbers are not
# postcodes of a home address and are not accepted.
POSTCODE_PATTERN = re.compile(
    r"^(GIR 0AA|[A-PR-UWYZ]([0-9]{1,2}|([A-HK-Y][0-9]([0-9ABEHMNPRV-Y])?)|[0-9][A-HJKPS-UW])"
    r" [0-9][ABD-HJLNP-UW-Z]{2})$"
)
NINO_PATTERN = re.compile(r"^([A-CEGHJ-PR-TW-Z])([A-CEGHJ-NPR-TW-Z])([0-9]{6})([A-D])$")
NINO_INVALID_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
SORT_CODE = re.compile(r"^[0-9]{6}$")
ACCOUNT_NUMBER = re.compile(r"^[0-9]{8}$")
PHONE_SEPARATORS = re.compile(r"[\s().-]")
PHONE_MAX_KEPT = len("+44") + 10  # the longest number validate_phone keeps

FIELD_LABELS: dict[str, str] = {
    "people.given_names": N_("Given names"),
    "people.family_name": N_("Family name"),
    "people.date_of_birth": N_("Date of birth"),
    "people.address": N_("Address"),
    "people.email": N_("Email address"),
    "people.phone": N_("Phone number"),
    "tax.national_insurance_number": N_("National Insurance number"),
    "tax.tax_code": N_("Tax code"),
    "motoring.driving_licence_number": N_("Driving licence number"),
    "motoring.entitlements": N_("Driving entitlements"),
    "motoring.vehicles": N_("Vehicles"),
    "pensions.state_pension_status": N_("State Pension status"),
    "pensions.bank_details": N_("Bank details"),
    "electoral.registration_status": N_("Electoral registration status"),
}


class FieldError(ValueError):
    """A value a field cannot hold, and a message a person can act on."""

    def __init__(self, field: str, message: str, part: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.part = part  # the part of a compound value at fault: "postcode", "town", ...


def field_label(field: str) -> str:
    """The name of a field as people read it: 'people.date_of_birth' is 'Date of birth'."""
    if field in FIELD_LABELS:
        return _(FIELD_LABELS[field])
    return field.rpartition(".")[2].replace("_", " ").capitalize()


# --- addresses -----------------------------------------------------------------------------


def normalise_postcode(value: str) -> str:
    """Upper case, no stray spaces, one space before the three-character inward code."""
    compact = "".join(value.split()).upper()
    if len(compact) < 5:
        return compact
    return f"{compact[:-3]} {compact[-3:]}"


def validate_postcode(field: str, value: Any) -> str:
    """A UK postcode in normal form, or FieldError."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, _("Enter a postcode"), "postcode")
    postcode = normalise_postcode(value)
    if not POSTCODE_PATTERN.match(postcode):
        raise FieldError(field, _("Enter a real postcode"), "postcode")
    return postcode


@dataclass(frozen=True, slots=True)
class AddressParts:
    """An address as the question page asks for it."""

    line_1: str
    line_2: str
    town: str
    postcode: str

    def as_value(self) -> dict[str, Any]:
        """The address as the field's value (not yet validated)."""
        lines = [line for line in (self.line_1, self.line_2) if line.strip()]
        return {"lines": lines, "town": self.town, "postcode": self.postcode}


def address_errors(field: str, parts: AddressParts) -> list[FieldError]:
    """Every error in an address typed on the question page, in the order of the inputs."""
    errors: list[FieldError] = []
    if not parts.line_1.strip():
        errors.append(
            FieldError(
                field, _("Enter address line 1, typically the building and street"), "line_1"
            )
        )
    elif len(parts.line_1.strip()) > MAX_LINE:
        errors.append(
            FieldError(
                field,
                _("Address line 1 must be %(max)d characters or less") % {"max": MAX_LINE},
                "line_1",
            )
        )
    if len(parts.line_2.strip()) > MAX_LINE:
        errors.append(
            FieldError(
                field,
                _("Address line 2 must be %(max)d characters or less") % {"max": MAX_LINE},
                "line_2",
            )
        )
    if not parts.town.strip():
        errors.append(FieldError(field, _("Enter town or city"), "town"))
    elif len(parts.town.strip()) > MAX_LINE:
        errors.append(
            FieldError(
                field,
                _("Town or city must be %(max)d characters or less") % {"max": MAX_LINE},
                "town",
            )
        )
    try:
        validate_postcode(field, parts.postcode)
    except FieldError as exc:
        errors.append(exc)
    return errors


def validate_uk_address(field: str, value: Any) -> dict[str, Any]:
    """{"lines": [1-3 lines], "town", "postcode"} in normal form, or FieldError."""
    if not isinstance(value, Mapping) or set(value) - {"lines", "town", "postcode"}:
        raise FieldError(field, _("Enter an address with lines, a town and a postcode"))
    lines = value.get("lines")
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise FieldError(
            field, _("Enter address line 1, typically the building and street"), "line_1"
        )
    cleaned = [" ".join(line.split()) for line in lines]
    if not 1 <= len(cleaned) <= 3 or not all(cleaned):
        raise FieldError(
            field, _("Enter between 1 and 3 address lines, none of them empty"), "line_1"
        )
    if any(len(line) > MAX_LINE for line in cleaned):
        raise FieldError(
            field,
            _("Address lines must be %(max)d characters or less") % {"max": MAX_LINE},
            "line_1",
        )
    town = value.get("town")
    if not isinstance(town, str) or not town.strip():
        raise FieldError(field, _("Enter town or city"), "town")
    town = " ".join(town.split())
    if len(town) > MAX_LINE:
        raise FieldError(
            field, _("Town or city must be %(max)d characters or less") % {"max": MAX_LINE}, "town"
        )
    postcode = validate_postcode(field, value.get("postcode"))
    return {"lines": cleaned, "town": town, "postcode": postcode}


# --- dates, text and lists -----------------------------------------------------------------


# Dates a register keeps lie in these bounds: later or earlier ones are typing mistakes, and
# the extremes (9999-12-31) overflow as soon as a day or a time zone is added to them.
EARLIEST_DATE = date(1900, 1, 1)
DATE_BOUND = date(2100, 1, 1)


def validate_date(field: str, value: Any, *, today: date) -> str:
    """An ISO date (YYYY-MM-DD); a date of birth must not be in the future."""
    label = field_label(field)
    if isinstance(value, datetime):
        moment = value.date()
    elif isinstance(value, date):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise FieldError(field, f"{label} must be a real date, like 1980-03-27")
        try:
            moment = date.fromisoformat(text)
        except ValueError:
            raise FieldError(field, f"{label} must be a real date") from None
    else:
        raise FieldError(field, f"Enter {label.lower()}")
    if moment < EARLIEST_DATE:
        raise FieldError(field, f"{label} must be on or after 1 January 1900")
    if moment >= DATE_BOUND:
        raise FieldError(field, f"{label} must be before 1 January 2100")
    if field.endswith("date_of_birth") and moment > today:
        raise FieldError(field, f"{label} must be in the past")
    return moment.isoformat()


def validate_string(field: str, value: Any) -> str:
    """Text on one line, without surrounding or repeated spaces."""
    label = field_label(field)
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, f"Enter {label.lower()}")
    text = " ".join(value.split())
    if len(text) > MAX_STRING:
        raise FieldError(field, f"{label} must be {MAX_STRING} characters or less")
    return text


def validate_list(field: str, value: Any) -> list[Any]:
    """A list of text items or of objects of text, at most MAX_LIST_ITEMS of them."""
    label = field_label(field)
    if not isinstance(value, list):
        raise FieldError(field, f"{label} must be a list")
    if len(value) > MAX_LIST_ITEMS:
        raise FieldError(field, f"{label} must have {MAX_LIST_ITEMS} items or fewer")
    items: list[Any] = []
    for item in value:
        if isinstance(item, str) and item.strip():
            items.append(" ".join(item.split()))
        elif isinstance(item, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in item.items()
        ):
            items.append({k: " ".join(v.split()) for k, v in item.items()})
        else:
            raise FieldError(field, f"Each item of {label.lower()} must be text or named text")
    return items


# --- contact details -----------------------------------------------------------------------


def validate_email(field: str, value: Any) -> str:
    """An email address: the domain in lower case, the local part as given (mail/domain.py)."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, "Enter an email address")
    address = parse_address(value)
    if address is None:
        raise FieldError(field, ADDRESS_MESSAGE)
    return address


def validate_phone(field: str, value: Any) -> str:
    """A UK phone number in international form: +44 then 9 or 10 digits, no spaces."""
    message = "Enter a UK phone number, like 01632 960 001 or 07700 900 982"
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, "Enter a phone number")
    digits = PHONE_SEPARATORS.sub("", value.strip())
    if digits.startswith("+44"):
        national = digits[3:]
    elif digits.startswith("0044"):
        national = digits[4:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        raise FieldError(field, message)
    if national.startswith("0"):
        national = national[1:]  # "+44 (0)20 ..." is a common way of writing it
    # Ten digits after the 0; nine only for a few old area codes (016977) and 0800 numbers.
    size_ok = len(national) == 10 or (len(national) == 9 and national[0] in "18")
    if not national.isdigit() or not size_ok or national[0] in "046":
        raise FieldError(field, message)
    return f"+44{national}"


def format_phone(value: str) -> str:
    """A number validate_phone kept ('+441214960000') as people in the UK write it, grouped
    by its area code the way Ofcom's numbering plan does: '0121 496 0000', '020 7946 0000',
    '07700 900123', '0800 123 4567'. Grouping is libphonenumber's (phonenumberslite), not a
    table of our own; a value not in that form is given back as it is."""
    if not value.startswith("+44") or len(value) > PHONE_MAX_KEPT:
        return value
    try:
        number = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# --- tax and money -------------------------------------------------------------------------


def validate_nino(field: str, value: Any) -> str:
    """A National Insurance number in normal form: 'QQ123456C' rules, no spaces, upper case."""
    message = "Enter a National Insurance number in the correct format"
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, "Enter a National Insurance number")
    compact = "".join(value.split()).upper()
    match = NINO_PATTERN.match(compact)
    if match is None or compact[:2] in NINO_INVALID_PREFIXES:
        raise FieldError(field, message)
    return compact


def format_nino(value: str) -> str:
    """A National Insurance number as people write it: 'QQ 12 34 56 C'."""
    return f"{value[:2]} {value[2:4]} {value[4:6]} {value[6:8]} {value[8:]}"


def validate_bank_account(field: str, value: Any) -> dict[str, str]:
    """{"sort_code": "NN-NN-NN", "account_number": 8 digits}, or FieldError."""
    if not isinstance(value, Mapping) or set(value) != {"sort_code", "account_number"}:
        raise FieldError(field, "Enter a sort code and an account number")
    sort_code = value["sort_code"]
    account = value["account_number"]
    compact = re.sub(r"[\s-]", "", sort_code) if isinstance(sort_code, str) else ""
    if not SORT_CODE.match(compact):
        raise FieldError(field, "Enter a valid sort code like 30-94-95", "sort_code")
    digits = re.sub(r"\s", "", account) if isinstance(account, str) else ""
    if not ACCOUNT_NUMBER.match(digits):
        raise FieldError(field, "Account number must be 8 digits long", "account_number")
    return {"sort_code": f"{compact[:2]}-{compact[2:4]}-{compact[4:]}", "account_number": digits}


# --- by type -------------------------------------------------------------------------------

Validator = Callable[[str, Any, date], Any]

VALIDATORS: dict[str, Validator] = {
    "uk-address": lambda field, value, _today: validate_uk_address(field, value),
    "date": lambda field, value, today: validate_date(field, value, today=today),
    "email": lambda field, value, _today: validate_email(field, value),
    "phone": lambda field, value, _today: validate_phone(field, value),
    "nino": lambda field, value, _today: validate_nino(field, value),
    "string": lambda field, value, _today: validate_string(field, value),
    "list": lambda field, value, _today: validate_list(field, value),
    "bank-account": lambda field, value, _today: validate_bank_account(field, value),
}


def validate_value(field_type: str, field: str, value: Any, *, today: date) -> Any:
    """The value of field (of catalogue type field_type) in normal form, or FieldError."""
    validator = VALIDATORS.get(field_type)
    if validator is None:
        raise FieldError(field, f"{field_label(field)} has a type this register cannot check")
    return validator(field, value, today)


# --- matching ------------------------------------------------------------------------------

MAX_MATCH_VALUE = 200


def match_key(field_type: str, value: Any) -> str | None:
    """A value as a match compares it, or None when it cannot be one of field_type's values.

    A National Insurance number and a date in their normal form; text without case or repeated
    spaces. So 'qq 12 34 56 c' matches 'QQ123456C', and 'ada  LOVELACE'
    matches 'Ada Lovelace', but 'Ada' does not match 'Ada Mary': a match is of the whole value.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_MATCH_VALUE:
        return None
    try:
        if field_type == "nino":
            return validate_nino("match", value)
        if field_type == "date":
            return date.fromisoformat(value.strip()).isoformat()
    except (FieldError, ValueError):
        return None
    if field_type == "string":
        return " ".join(value.split()).casefold()
    return None


def values_match(field_type: str, held: Any, given: Any) -> bool:
    """True when the value given is the value held (match_key of both, and both usable)."""
    held_key = match_key(field_type, held)
    return held_key is not None and held_key == match_key(field_type, given)
