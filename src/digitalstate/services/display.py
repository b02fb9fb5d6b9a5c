"""Answers as people read them on check your answers, in English or Welsh. Plain computation.

Dates are written the GOV.UK way ('1 April 1960', '1 Ebrill 1960'), money with its pound sign
('£12.50', '£600'), a National Insurance number in pairs ('QQ 12 34 56 C'), a phone number
grouped by its area code ('0121 496 0000'), an address as its lines, and a slot (an ISO date
and time the service offered) as 'Monday 4 May 2026, 2pm', or one with an end
('2026-05-04T14:00/15:30') as 'Monday 4 May 2026, 2pm to 3:30pm'.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from digitalstate.registers.domain import format_nino, format_phone
from digitalstate.services.questions import Question

MONTH_NAMES = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "cy": [
        "Ionawr",
        "Chwefror",
        "Mawrth",
        "Ebrill",
        "Mai",
        "Mehefin",
        "Gorffennaf",
        "Awst",
        "Medi",
        "Hydref",
        "Tachwedd",
        "Rhagfyr",
    ],
}
DAY_NAMES = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "cy": [
        "Dydd Llun",
        "Dydd Mawrth",
        "Dydd Mercher",
        "Dydd Iau",
        "Dydd Gwener",
        "Dydd Sadwrn",
        "Dydd Sul",
    ],
}
WORDS = {
    "en": {
        "yes": "Yes",
        "no": "No",
        "none": "Not answered",
        "sort_code": "Sort code",
        "account": "Account number",
        "am": "am",
        "pm": "pm",
        "to": "to",
    },
    "cy": {
        "yes": "Ie",
        "no": "Na",
        "none": "Heb ateb",
        "sort_code": "Cod didoli",
        "account": "Rhif cyfrif",
        "am": "yb",
        "pm": "yp",
        "to": "i",
    },
}


def capitalise(text: str) -> str:
    """text with its first letter in capitals: 'your date of birth' is 'Your date of birth'."""
    return text[:1].upper() + text[1:]


def _words(lang: str) -> Mapping[str, str]:
    return WORDS.get(lang, WORDS["en"])


def display_date(value: date, lang: str = "en") -> str:
    """'1 April 1960' ('1 Ebrill 1960' in Welsh)."""
    return f"{value.day} {MONTH_NAMES.get(lang, MONTH_NAMES['en'])[value.month - 1]} {value.year}"


def _clock(moment: datetime | time, lang: str) -> str:
    """'2pm', '10:30am' ('2yp', '10:30yb' in Welsh)."""
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes}{_words(lang)['am' if moment.hour < 12 else 'pm']}"


def display_slot(value: str, lang: str = "en") -> str:
    """An offered time ('2026-05-04T14:00') as 'Monday 4 May 2026, 2pm'; with its end
    ('2026-05-04T14:00/15:30') as 'Monday 4 May 2026, 2pm to 3:30pm'. What follows a '#' is
    the source's own name for the slot ('...#17') and is not shown. Others as they are."""
    start, _, end = value.split("#", 1)[0].partition("/")
    try:
        moment = datetime.fromisoformat(start)
        until = time.fromisoformat(end) if end else None
    except ValueError:
        return value
    day = DAY_NAMES.get(lang, DAY_NAMES["en"])[moment.weekday()]
    shown = f"{day} {display_date(moment.date(), lang)}, {_clock(moment, lang)}"
    return shown if until is None else f"{shown} {_words(lang)['to']} {_clock(until, lang)}"


def display_money(pence: int) -> str:
    """'£12.50', or '£600' for whole pounds."""
    pounds, rest = divmod(pence, 100)
    return f"£{pounds:,}" if rest == 0 else f"£{pounds:,}.{rest:02d}"


def display_answer(question: Question, answer: Any, lang: str = "en") -> list[str]:
    """An answer to question as lines of text, in lang."""
    words = _words(lang)
    kind = question.type
    if answer is None or answer == [] or answer == "":
        return [words["none"]]
    if kind == "date":
        return [display_date(date.fromisoformat(answer), lang)]
    if kind == "money":
        return [display_money(answer)]
    if kind == "number":
        return [f"{answer:,}"]
    if kind == "yes-no":
        return [words["yes"] if answer else words["no"]]
    if kind in ("radios", "select"):
        return [question.choice_label(answer, lang)]
    if kind == "checkboxes":
        return [question.choice_label(value, lang) for value in answer]
    if kind == "slots":
        return [display_slot(value, lang) for value in answer]
    if kind == "uk-address":
        return [*answer["lines"], answer["town"], answer["postcode"]]
    if kind == "ni-number":
        return [format_nino(answer)]
    if kind == "uk-phone":
        return [format_phone(answer)]
    if kind == "bank-details":
        return [
            answer["name"],
            f"{words['sort_code']} {answer['sort_code']}",
            f"{words['account']} {answer['account_number']}",
        ]
    if kind == "file":
        return [answer["name"]]
    if kind == "long-text":
        return str(answer).split("\n")
    return [str(answer)]
