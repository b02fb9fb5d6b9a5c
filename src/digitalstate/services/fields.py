"""Field types: one parser per type of question, from a posted form to a typed answer.

`parse(question, form, today=...)` reads the form's values for one question (a mapping of
input name to text or list of texts; files come as `uploads`) and returns `Answer(value)`,
where value is JSON-serialisable (None for an optional question left blank), or
`Invalid(problems)`, each problem a message in the GOV.UK Design System's wording and the part
of the question it is about (for the error summary's link: `#dob-month`). Every input is
bounded (MAX_INPUT characters, MAX_ITEMS values) whatever the definition says, so no parser
raises or works long on hostile input. `display(question, answer, lang)` gives the answer as
lines for check your answers; `form_values(question, answer)` gives it back as form values
(to show it in its inputs again, or to pre-fill them). Plain computation.

Input names: a question whose id is `dob` is read from `dob`, or from its parts' inputs
`dob-day`, `dob-month`, `dob-year` (date), `-line-1`, `-line-2`, `-town`, `-postcode`
(uk-address), `-name`, `-sort-code`, `-account-number` (bank-details): `input_names`.

The registers' rules and normal forms are used where both hold a value (postcode, National
Insurance number, email, phone), so a register's value can pre-fill a question as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from digitalstate.registers.domain import (
    DATE_BOUND,
    EARLIEST_DATE,
    NINO_INVALID_PREFIXES,
    NINO_PATTERN,
    AddressParts,
    FieldError,
    address_errors,
    format_phone,
    validate_email,
    validate_phone,
    validate_uk_address,
)
from digitalstate.services.display import capitalise, display_answer
from digitalstate.services.filetypes import Upload, check_upload
from digitalstate.services.questions import Question
from digitalstate.web.i18n import N_, _

MAX_INPUT = 20_000  # characters of any one input, before a question's own limit applies
MAX_ITEMS = 200  # values of any one input (checkboxes, slots)
MAX_SHORT_INPUT = 100  # characters of a number, postcode, NI number, phone, sort code...
NAME_ON_ACCOUNT = 70

Form = Mapping[str, Any]  # input name -> str or list of str (anything else counts as blank)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with an answer, and which of its inputs (None: the question's only one)."""

    message: str
    part: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A valid answer: JSON-serialisable, None when an optional question was left blank."""

    value: Any


@dataclass(frozen=True, slots=True)
class Invalid:
    """An answer that cannot be taken, with each problem in the order of the inputs."""

    problems: tuple[Problem, ...]

    @property
    def message(self) -> str:
        """The first problem's message."""
        return self.problems[0].message


Parsed = Answer | Invalid

PARTS: dict[str, tuple[str, ...]] = {
    "date": ("day", "month", "year"),
    "uk-address": ("line-1", "line-2", "town", "postcode"),
    "bank-details": ("name", "sort-code", "account-number"),
}
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


# A date with parts missing: what its error message names (GOV.UK's date input pattern).
MUST_INCLUDE = {
    "day": N_("%(subject)s must include a day"),
    "month": N_("%(subject)s must include a month"),
    "year": N_("%(subject)s must include a year"),
    "day and month": N_("%(subject)s must include a day and month"),
    "day and year": N_("%(subject)s must include a day and year"),
    "month and year": N_("%(subject)s must include a month and year"),
}


def input_names(question: Question) -> tuple[str, ...]:
    """The names of the form inputs a question is read from."""
    parts = PARTS.get(question.type)
    if parts is None:
        return (question.id,)
    return tuple(f"{question.id}-{part}" for part in parts)


def _text(form: Form, name: str) -> str:
    value = form.get(name)
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def _texts(form: Form, name: str) -> list[str] | None:
    """The values of a many-valued input, None when there are more than MAX_ITEMS."""
    value = form.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    if len(value) > MAX_ITEMS:
        return None
    return [item for item in value if isinstance(item, str) and item]


def _invalid(message: str, part: str | None = None) -> Invalid:
    return Invalid((Problem(message, part),))


def _blank(question: Question, select: bool = False) -> Parsed:
    if not question.required:
        return Answer(None)
    message = N_("Select %(subject)s") if select else N_("Enter %(subject)s")
    return _invalid(question.named(message))


# --- text and numbers ----------------------------------------------------------------------


def parse_text(question: Question, form: Form, _today: date) -> Parsed:
    """One line of text, spaces collapsed."""
    raw = _text(form, question.id)
    if len(raw) > MAX_INPUT:
        return _too_long(question)
    text = " ".join(raw.split())
    if not text:
        return _blank(question)
    if len(text) > question.text_limit:
        return _too_long(question)
    return Answer(text)


def parse_long_text(question: Question, form: Form, _today: date) -> Parsed:
    """Paragraphs of text: line breaks kept, each line's ends trimmed."""
    raw = _text(form, question.id)
    if len(raw) > MAX_INPUT:
        return _too_long(question)
    text = "\n".join(line.strip() for line in raw.replace("\r\n", "\n").split("\n")).strip()
    if not text:
        return _blank(question)
    if len(text) > question.text_limit:
        return _too_long(question)
    return Answer(text)


def _too_long(question: Question) -> Invalid:
    subject = capitalise(question.subject())
    message = _("%(subject)s must be %(num)d characters or less")
    return _invalid(message % {"subject": subject, "num": question.text_limit})


def _range_problem(question: Question, value: int, money: bool) -> Invalid | None:
    low, high = question.min, question.max
    scale = 100 if money else 1

    def shown(number: int) -> str:
        return f"£{number:,}" if money else f"{number:,}"

    subject = capitalise(question.subject())
    if low is not None and high is not None and not low * scale <= value <= high * scale:
        return _invalid(f"{subject} must be between {shown(low)} and {shown(high)}")
    if low is not None and value < low * scale:
        return _invalid(f"{subject} must be {shown(low)} or more")
    if high is not None and value > high * scale:
        return _invalid(f"{subject} must be {shown(high)} or less")
    return None


def parse_number(question: Question, form: Form, _today: date) -> Parsed:
    """A whole number; commas and spaces between digits are allowed."""
    raw = _text(form, question.id)
    if len(raw) > MAX_SHORT_INPUT:
        return _invalid(f"{capitalise(question.subject())} must be a whole number")
    text = re.sub(r"[\s,]", "", raw)
    if not text:
        return _blank(question)
    if not re.fullmatch(r"-?[0-9]{1,15}", text):
        return _invalid(f"{capitalise(question.subject())} must be a whole number")
    value = int(text)
    return _range_problem(question, value, money=False) or Answer(value)


def parse_money(question: Question, form: Form, _today: date) -> Parsed:
    """An amount in pounds and pence, as whole pence: '£1,234.5' is 123450."""
    raw = _text(form, question.id)
    message = f"{capitalise(question.subject())} must be an amount of money, like 600 or 193.54"
    if len(raw) > MAX_SHORT_INPUT:
        return _invalid(message)
    text = re.sub(r"[\s,]", "", raw).removeprefix("£")
    if not text:
        return _blank(question)
    match = re.fullmatch(r"([0-9]{1,13})(?:\.([0-9]{1,2}))?", text)
    if match is None:
        return _invalid(message)
    pence = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    return _range_problem(question, pence, money=True) or Answer(pence)


# --- dates ---------------------------------------------------------------------------------


def _month(text: str) -> int | None:
    if text.isdigit():
        return int(text) if len(text) <= 2 and 1 <= int(text) <= 12 else None
    name = text.lower()
    if len(name) >= 3:
        for number, month in enumerate(MONTHS, start=1):
            if month.startswith(name):
                return number
    return None


def parse_date(question: Question, form: Form, today: date) -> Parsed:
    """A date typed as day, month and year (GOV.UK date input), as an ISO date."""
    texts = {
        part: _text(form, f"{question.id}-{part}").strip()[:MAX_SHORT_INPUT]
        for part in PARTS["date"]
    }
    subject = capitalise(question.subject())
    real = _("%(subject)s must be a real date") % {"subject": subject}
    missing = [part for part, text in texts.items() if not text]
    if len(missing) == 3:
        return _blank(question)
    if missing:
        named = " and ".join(missing) if len(missing) == 2 else missing[0]
        message = _(MUST_INCLUDE[named]) % {"subject": subject}
        return _invalid(message, missing[0])
    day, month, year = texts["day"], _month(texts["month"]), texts["year"]
    if not day.isdigit() or len(day) > 2:
        return _invalid(real, "day")
    if month is None:
        return _invalid(real, "month")
    if not year.isdigit() or len(year) != 4:
        return _invalid(_("Year must include 4 numbers"), "year")
    try:
        moment = date(int(year), month, int(day))
    except ValueError:
        return _invalid(real, "day")
    if moment < EARLIEST_DATE:
        return _invalid(f"{subject} must be on or after 1 January 1900", "year")
    if moment >= DATE_BOUND:
        return _invalid(f"{subject} must be before 1 January 2100", "year")
    return _when_problem(question, moment, today) or Answer(moment.isoformat())


def _when_problem(question: Question, moment: date, today: date) -> Invalid | None:
    subject = capitalise(question.subject())
    wrong = {
        "past": (moment >= today, "in the past"),
        "today-or-past": (moment > today, "today or in the past"),
        "future": (moment <= today, "in the future"),
        "today-or-future": (moment < today, "today or in the future"),
    }.get(question.when or "")
    if wrong is not None and wrong[0]:
        return _invalid(f"{subject} must be {wrong[1]}", "day")
    return None


# --- choices -------------------------------------------------------------------------------


def parse_choice(question: Question, form: Form, _today: date) -> Parsed:
    """One of the question's choices (radios, select): its value."""
    value = _text(form, question.id)
    if not value:
        return _blank(question, select=True)
    if value not in {choice.value for choice in question.choices or ()}:
        return _invalid(question.named(N_("Select %(subject)s")))
    return Answer(value)


def _choose_many(
    question: Question, chosen: list[str] | None, offered: Sequence[str], limit: int | None
) -> Parsed:
    if chosen is None:
        return _invalid(f"Select {question.subject()}")
    if not chosen:
        return _blank(question, select=True)
    if any(value not in offered for value in chosen):
        return _invalid(f"Select {question.subject()} from the list")  # noqa: S608 (not SQL)
    picked = [value for value in offered if value in set(chosen)]  # in the order offered
    if limit is not None and len(picked) > limit:
        return _invalid(f"Select up to {limit} {question.subject()}")
    return Answer(picked)


def parse_checkboxes(question: Question, form: Form, _today: date) -> Parsed:
    """Some of the question's choices: their values, in the order of the choices."""
    offered = [choice.value for choice in question.choices or ()]
    return _choose_many(question, _texts(form, question.id), offered, question.max_choices)


def parse_yes_no(question: Question, form: Form, _today: date) -> Parsed:
    """Yes or no, as true or false."""
    value = _text(form, question.id)
    if value in ("yes", "no"):
        return Answer(value == "yes")
    if not question.required and not value:
        return Answer(None)
    if question.error_name is None:
        return _invalid(_("Select yes or no"))
    return _invalid(question.named(N_("Select yes if %(subject)s")))


# --- identifiers and contact details -------------------------------------------------------


def parse_ni_number(question: Question, form: Form, _today: date) -> Parsed:
    """A National Insurance number in normal form (QQ123456C), prefixes HMRC never uses refused."""
    raw = _text(form, question.id)[: MAX_SHORT_INPUT + 1]
    compact = "".join(raw.split()).upper()
    if not compact:
        return _blank(question)
    match = NINO_PATTERN.match(compact)
    if match is None or compact[:2] in NINO_INVALID_PREFIXES or len(raw) > MAX_SHORT_INPUT:
        subject = capitalise(question.subject())
        return _invalid(f"{subject} must be in the correct format, like QQ 12 34 56 C")
    return Answer(compact)


def _register_check(
    question: Question, form: Form, check: Callable[[str, Any], str], limit: int
) -> Parsed:
    raw = _text(form, question.id)
    if not raw.strip():
        return _blank(question)
    # Longer than any valid value: checked as "\0", which every such check refuses with its
    # message for a value in the wrong format, instead of working on all of it.
    try:
        return Answer(check(question.id, raw if len(raw) <= limit else "\0"))
    except FieldError as exc:
        return _invalid(exc.message)


def parse_email(question: Question, form: Form, _today: date) -> Parsed:
    """An email address, its domain in lower case."""
    return _register_check(question, form, validate_email, 254)


def parse_uk_phone(question: Question, form: Form, _today: date) -> Parsed:
    """A UK phone number, as +44 and its digits."""
    return _register_check(question, form, validate_phone, MAX_SHORT_INPUT)


# --- compound answers ----------------------------------------------------------------------

REGISTER_PARTS = {"line_1": "line-1", "line_2": "line-2", "town": "town", "postcode": "postcode"}


def parse_uk_address(question: Question, form: Form, _today: date) -> Parsed:
    """A UK address: 1 or 2 lines, a town and a real postcode, in the register's normal form."""
    texts = {
        part: _text(form, f"{question.id}-{part}")[: MAX_SHORT_INPUT * 2]
        for part in PARTS["uk-address"]
    }
    if not any(text.strip() for text in texts.values()) and not question.required:
        return Answer(None)
    parts = AddressParts(texts["line-1"], texts["line-2"], texts["town"], texts["postcode"])
    errors = address_errors(question.id, parts)
    if errors:
        return Invalid(tuple(Problem(e.message, REGISTER_PARTS.get(e.part or "")) for e in errors))
    return Answer(validate_uk_address(question.id, parts.as_value()))


def parse_bank_details(question: Question, form: Form, _today: date) -> Parsed:
    """The name on a UK bank account, its sort code (NN-NN-NN) and 8-digit account number."""
    texts = {
        part: _text(form, f"{question.id}-{part}")[: MAX_SHORT_INPUT * 2].strip()
        for part in PARTS["bank-details"]
    }
    if not any(texts.values()) and not question.required:
        return Answer(None)
    name = " ".join(texts["name"].split())
    sort_code = re.sub(r"[\s-]", "", texts["sort-code"])
    account = re.sub(r"\s", "", texts["account-number"])
    problems: list[Problem] = []
    if not name:
        problems.append(Problem("Enter the name on the account", "name"))
    elif len(name) > NAME_ON_ACCOUNT:
        message = f"Name on the account must be {NAME_ON_ACCOUNT} characters or less"
        problems.append(Problem(message, "name"))
    problems += _digits(sort_code, 6, "sort-code", "a sort code", "Sort code", "309430")
    problems += _digits(
        account, 8, "account-number", "an account number", "Account number", "00733445"
    )
    if problems:
        return Invalid(tuple(problems))
    sort = f"{sort_code[:2]}-{sort_code[2:4]}-{sort_code[4:]}"
    return Answer({"name": name, "sort_code": sort, "account_number": account})


def _digits(text: str, size: int, part: str, what: str, name: str, like: str) -> list[Problem]:
    if not text:
        return [Problem(f"Enter {what}", part)]
    if not text.isascii() or not text.isdigit():
        return [Problem(f"Enter a valid {name.lower()} like {like}", part)]
    if len(text) != size:
        return [Problem(f"{name} must be {size} digits long", part)]
    return []


# --- all types -----------------------------------------------------------------------------

Parser = Callable[[Question, Form, date], Parsed]
PARSERS: dict[str, Parser] = {
    "text": parse_text,
    "long-text": parse_long_text,
    "number": parse_number,
    "money": parse_money,
    "date": parse_date,
    "radios": parse_choice,
    "select": parse_choice,
    "checkboxes": parse_checkboxes,
    "yes-no": parse_yes_no,
    "uk-address": parse_uk_address,
    "ni-number": parse_ni_number,
    "email": parse_email,
    "uk-phone": parse_uk_phone,
    "bank-details": parse_bank_details,
}


def parse(
    question: Question,
    form: Form,
    *,
    today: date,
    uploads: Mapping[str, Upload] | None = None,
    offered: Sequence[str] | None = None,
) -> Parsed:
    """The answer to question in form (uploads: files by input name; offered: the values
    a slots question's source offers now), or the problems with it."""
    if question.type == "file":
        upload = (uploads or {}).get(question.id)
        problem = check_upload(question, upload)
        if problem is not None:
            return _invalid(problem)
        if upload is None or not upload.content:
            return Answer(None)
        return Answer(upload.describe())
    if question.type == "slots":
        # Up to max_choices of the values the service's source offers now.
        chosen = _texts(form, question.id)
        return _choose_many(question, chosen, list(offered or ()), question.max_choices)
    return PARSERS[question.type](question, form, today)


def display(question: Question, answer: Any, lang: str = "en") -> list[str]:
    """An answer as lines of text for check your answers, in lang."""
    return display_answer(question, answer, lang)


def _parts(question: Question, values: Sequence[str]) -> dict[str, Any]:
    return dict(zip(input_names(question), values, strict=True))


def form_values(question: Question, answer: Any) -> dict[str, Any]:
    """An answer as the form values that parse back to it (to show it in its inputs again)."""
    if answer is None:
        return {}
    kind = question.type
    if kind == "date":
        moment = date.fromisoformat(answer)
        return _parts(question, (str(moment.day), str(moment.month), str(moment.year)))
    if kind == "uk-address":
        lines = [*answer["lines"], "", ""]
        return _parts(question, (lines[0], lines[1], answer["town"], answer["postcode"]))
    if kind == "bank-details":
        return _parts(question, (answer["name"], answer["sort_code"], answer["account_number"]))
    if kind == "money":
        return {question.id: f"{answer // 100}.{answer % 100:02d}"}
    if kind == "yes-no":
        return {question.id: "yes" if answer else "no"}
    if kind in ("checkboxes", "slots"):
        return {question.id: list(answer)}
    if kind == "file":
        return {}
    if kind == "uk-phone":
        return {question.id: format_phone(answer)}  # '0121 496 0000' as typed, not '+44...'
    return {question.id: str(answer)}
