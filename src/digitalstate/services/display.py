"""Answers as people read them on check your answers, in English or Welsh. Plain computation.

Dates are written the GOV.UK way ('1 April 1960', '1 Ebrill 1960'), money with its pound sign
('£12.50', '£600'), a National Insurance number in pairs ('QQ 12 34 56 C'), a phone number
grouped by its area code ('0121 496 0000'), an address as its lines, and a slot (an ISO date
and time the service offered) as 'Monday 4 May 2026, 2pm', or one with an end
('2026-05-04T14:00/15:30') as 'Monday 4 May 2026, 2pm to 3:30pm'.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from digitalstate.registers.domain import format_nino, format_phone
from digitalstate.services.questions import Question
from digitalstate.web.i18n import N_, day_name, format_day, gettext_in

# The words an answer reads with, translated in the language of the service's own texts
# (gettext_in), which need not be the page's: the catalogue has them (web/locale).
NOT_ANSWERED = N_("Not answered")
YES, NO = N_("Yes"), N_("No")
SORT_CODE, ACCOUNT_NUMBER = N_("Sort code"), N_("Account number")
# A time of day ('2pm', '10:30am') and an offered time with its end ('... 2pm to 3:30pm').
MORNING, AFTERNOON = N_("%(time)sam"), N_("%(time)spm")
UNTIL = N_("%(start)s to %(end)s")


def capitalise(text: str) -> str:
    """text with its first letter in capitals: 'your date of birth' is 'Your date of birth'."""
    return text[:1].upper() + text[1:]


def display_date(value: date, lang: str = "en") -> str:
    """'1 April 1960' ('1 Ebrill 1960' in Welsh)."""
    return format_day(value, lang)


def _clock(moment: datetime | time, lang: str) -> str:
    """'2pm', '10:30am' ('2yp', '10:30yb' in Welsh)."""
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    shown = gettext_in(lang, MORNING if moment.hour < 12 else AFTERNOON)
    return shown % {"time": f"{hour}{minutes}"}


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
    shown = f"{day_name(moment.weekday(), lang)} {display_date(moment.date(), lang)}, "
    shown += _clock(moment, lang)
    if until is None:
        return shown
    return gettext_in(lang, UNTIL) % {"start": shown, "end": _clock(until, lang)}


def display_money(pence: int) -> str:
    """'£12.50', or '£600' for whole pounds."""
    pounds, rest = divmod(pence, 100)
    return f"£{pounds:,}" if rest == 0 else f"£{pounds:,}.{rest:02d}"


def display_answer(question: Question, answer: Any, lang: str = "en") -> list[str]:
    """An answer to question as lines of text, in lang."""
    kind = question.type
    if answer is None or answer == [] or answer == "":
        return [gettext_in(lang, NOT_ANSWERED)]
    if kind == "date":
        return [display_date(date.fromisoformat(answer), lang)]
    if kind == "money":
        return [display_money(answer)]
    if kind == "number":
        return [f"{answer:,}"]
    if kind == "yes-no":
        return [gettext_in(lang, YES if answer else NO)]
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
            f"{gettext_in(lang, SORT_CODE)} {answer['sort_code']}",
            f"{gettext_in(lang, ACCOUNT_NUMBER)} {answer['account_number']}",
        ]
    if kind == "file":
        return [answer["name"]]
    if kind == "long-text":
        return str(answer).split("\n")
    return [str(answer)]
