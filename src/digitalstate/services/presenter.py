"""What a question page shows, as the parameters govuk-frontend's macros take. Plain computation.

`question_view` gives one question's component: its macro (input, textarea, date, radios,
checkboxes, select, file, or a fieldset of inputs for an address or bank details) and the
parameters, with the values to show again and the error message of each input in error.
`error_list` gives the error summary, each error linking to the input at fault (`anchor`:
`#dob-month`, `#address-postcode`, `#colour` for the first radio). A question that a register's
value can answer, when the service holds one under the person's consent, is offered as "use
the address we already hold" yes or no, the question's own inputs revealed under "no"
(`held_view`). Templates only lay these out (web/templates/services/journey/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from digitalstate.registers.domain import field_label
from digitalstate.services.display import display_answer, display_slot
from digitalstate.services.fields import Problem, input_names
from digitalstate.services.filetypes import KIND_NAMES, size_text
from digitalstate.services.questions import Question
from digitalstate.web.i18n import N_, _, format_day

USE_HELD = "use-held"  # the yes/no input of a pre-filled question: <question id>-use-held
AUTOCOMPLETE = {
    "people.given_names": "given-name",
    "people.family_name": "family-name",
    "people.email": "email",
    "people.phone": "tel",
}
DATE_PARTS = {"day": N_("Day"), "month": N_("Month"), "year": N_("Year")}
FILE_ACCEPT = {"pdf": ".pdf", "jpeg": ".jpg,.jpeg", "png": ".png"}


@dataclass(frozen=True)
class HeldValue:
    """A register's value the service holds under the person's consent, offered as an answer.

    source is what the draft keeps as the answer's origin when the person says yes.
    """

    field: str
    value: Any
    source: dict[str, Any]


def anchor(question: Question, part: str | None) -> str:
    """The id of the input an error of question is about (the first input without a part)."""
    return f"{question.id}-{part}" if part else input_names(question)[0]


def held_input(question: Question) -> str:
    """The name (and id) of a pre-filled question's yes/no input."""
    return f"{question.id}-{USE_HELD}"


def error_list(
    questions: Sequence[Question], problems: Mapping[str, Sequence[Problem]]
) -> list[dict[str, str]]:
    """The error summary: every problem, in the order of the questions, linking to its input."""
    return [
        {"text": problem.message, "href": "#" + _problem_anchor(question, problem)}
        for question in questions
        for problem in problems.get(question.id, ())
    ]


def _problem_anchor(question: Question, problem: Problem) -> str:
    return held_input(question) if problem.part == USE_HELD else anchor(question, problem.part)


def held_name(field: str) -> str:
    """A field's name mid-sentence: 'address', 'date of birth', 'National Insurance number'."""
    label = field_label(field)
    first, *others = label.split(" ")
    if any(word[:1].isupper() for word in others) or not first[1:].islower():
        return label
    return label[:1].lower() + label[1:]


def held_view(
    question: Question,
    held: HeldValue,
    choice: str | None,
    problems: Sequence[Problem],
    *,
    heading: bool,
    lang: str,
) -> dict[str, Any]:
    """The yes/no offer of held's value as the answer to question (choice: 'yes', 'no', None)."""
    name = held_input(question)
    shown = ", ".join(display_answer(question, held.value, lang))
    error = next((p.message for p in problems if p.part == USE_HELD), None)
    return {
        "name": name,
        "fieldset": {"legend": _legend(question, lang, heading)},
        "hint": {
            "text": _("Use the %(name)s we already hold: %(value)s")
            % {"name": held_name(held.field), "value": shown}
        },
        "errorMessage": {"text": error} if error else None,
        "choice": choice,
    }


def _legend(question: Question, lang: str, heading: bool) -> dict[str, Any]:
    size = "govuk-fieldset__legend--l" if heading else "govuk-fieldset__legend--s"
    return {"text": question.label.text(lang), "isPageHeading": heading, "classes": size}


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def _chosen(values: Mapping[str, Any], name: str) -> set[str]:
    value = values.get(name)
    if isinstance(value, str):
        return {value}
    return {item for item in value if isinstance(item, str)} if isinstance(value, list) else set()


def _message(problems: Sequence[Problem], part: str | None = None) -> dict[str, str] | None:
    found = [p for p in problems if p.part != USE_HELD and (part is None or p.part == part)]
    return {"text": found[0].message, "visuallyHiddenText": _("Error")} if found else None


@dataclass(frozen=True)
class _Shown:
    """What one question's component is built from (see question_view)."""

    question: Question
    values: Mapping[str, Any]
    problems: Sequence[Problem]
    heading: bool
    lang: str
    offered: Sequence[str]
    stored: Mapping[str, Any] | None

    @property
    def label(self) -> dict[str, Any]:
        size = "govuk-label--l" if self.heading else "govuk-label--s"
        text = self.question.label.text(self.lang)
        return {"text": text, "isPageHeading": self.heading, "classes": size}

    @property
    def legend(self) -> dict[str, Any]:
        return _legend(self.question, self.lang, self.heading)

    def text(self, name: str) -> str:
        return _text(self.values, name)


Built = tuple[str, dict[str, Any], list[dict[str, Any]]]


def question_view(
    question: Question,
    *,
    values: Mapping[str, Any],
    problems: Sequence[Problem] = (),
    heading: bool = False,
    lang: str = "en",
    offered: Sequence[str] = (),
    stored: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One question's component: {"id", "macro", "params", "parts"}.

    values are the form values to show (as posted, or fields.form_values of the answer kept);
    problems the question's errors; heading: the question is the page's only one, so its
    label is the page's heading; offered: a slots question's choices now; stored: the file a
    file question holds already ({"name", ...}).
    """
    hint = {"text": question.hint.text(lang)} if question.hint is not None else None
    common: dict[str, Any] = {"hint": hint, "errorMessage": _message(problems)}
    shown = _Shown(question, values, problems, heading, lang, offered, stored)
    macro, params, parts = _BUILDERS[question.type](shown)
    return {"id": question.id, "macro": macro, "params": common | params, "parts": parts}


INPUT_OPTIONS: dict[str, dict[str, Any]] = {
    "number": {"inputmode": "numeric", "classes": "govuk-input--width-10"},
    "money": {"prefix": {"text": "£"}, "inputmode": "decimal", "classes": "govuk-input--width-10"},
    "ni-number": {"classes": "govuk-input--width-10", "spellcheck": False},
    "email": {"type": "email", "autocomplete": "email", "spellcheck": False},
    "uk-phone": {"type": "tel", "autocomplete": "tel", "classes": "govuk-input--width-20"},
    "long-text": {"rows": 5},
}


def _input(shown: _Shown) -> Built:
    question = shown.question
    params: dict[str, Any] = {
        "id": question.id,
        "name": question.id,
        "label": shown.label,
        "value": shown.text(question.id),
    }
    if question.prefill in AUTOCOMPLETE:
        params["autocomplete"] = AUTOCOMPLETE[question.prefill]
    params |= INPUT_OPTIONS.get(question.type, {})
    return ("textarea" if question.type == "long-text" else "input"), params, []


def _date(shown: _Shown) -> Built:
    question = shown.question
    wrong = {p.part for p in shown.problems if p.part != USE_HELD}
    items = []
    for part, width in (("day", 2), ("month", 2), ("year", 4)):
        classes = f"govuk-input--width-{width}"
        if None in wrong or part in wrong:
            classes += " govuk-input--error"
        item: dict[str, Any] = {
            "name": part,
            "label": _(DATE_PARTS[part]),
            "classes": classes,
            "value": shown.text(f"{question.id}-{part}"),
        }
        if question.prefill == "people.date_of_birth":
            item["autocomplete"] = f"bday-{part}"
        items.append(item)
    params = {
        "id": question.id,
        "namePrefix": question.id,
        "fieldset": {"legend": shown.legend},
        "items": items,
    }
    return "date", params, []


def _options(shown: _Shown) -> list[tuple[str, str, str | None]]:
    """The (value, text, hint) of each answer a choice question offers."""
    question, lang = shown.question, shown.lang
    if question.type == "yes-no":
        return [("yes", _("Yes"), None), ("no", _("No"), None)]
    if question.type == "slots":
        return [(value, display_slot(value, lang), None) for value in shown.offered]
    return [
        (c.value, c.label.text(lang), c.hint.text(lang) if c.hint else None)
        for c in question.choices or ()
    ]


def _select(shown: _Shown) -> Built:
    question = shown.question
    chosen = _chosen(shown.values, question.id)
    items: list[dict[str, Any]] = [{"value": "", "text": _("Choose an option")}]
    items += [{"value": v, "text": t, "selected": v in chosen} for v, t, _ in _options(shown)]
    params = {"id": question.id, "name": question.id, "label": shown.label, "items": items}
    return "select", params, []


def _choices(shown: _Shown) -> Built:
    question = shown.question
    chosen = _chosen(shown.values, question.id)
    items = []
    for value, text, hint in _options(shown):
        item: dict[str, Any] = {"value": value, "text": text, "checked": value in chosen}
        if hint:
            item["hint"] = {"text": hint}
        items.append(item)
    params: dict[str, Any] = {
        "name": question.id,
        "idPrefix": question.id,
        "fieldset": {"legend": shown.legend},
        "items": items,
    }
    if question.type == "yes-no":
        params["classes"] = "govuk-radios--inline"
    if question.type not in ("checkboxes", "slots"):
        return "radios", params, []
    if question.max_choices is not None:
        hint = question.hint.text(shown.lang) + " " if question.hint else ""
        params["hint"] = {"text": hint + _("Select up to %(num)d.") % {"num": question.max_choices}}
    if question.type == "slots" and not shown.offered:
        params["hint"] = {"text": _("There are no times to choose from at the moment.")}
    return "checkboxes", params, []


NUMERIC = {"inputmode": "numeric", "spellcheck": False}
WIDTH = {n: {"classes": f"govuk-input--width-{n}"} for n in (5, 10)}
PART_INPUTS: dict[str, tuple[tuple[str, str, dict[str, Any]], ...]] = {
    "uk-address": (
        ("line-1", N_("Address line 1"), {"autocomplete": "address-line1"}),
        ("line-2", N_("Address line 2 (optional)"), {"autocomplete": "address-line2"}),
        (
            "town",
            N_("Town or city"),
            {"autocomplete": "address-level2", "classes": "govuk-!-width-two-thirds"},
        ),
        ("postcode", N_("Postcode"), {"autocomplete": "postal-code"} | WIDTH[10]),
    ),
    "bank-details": (
        ("name", N_("Name on the account"), {"spellcheck": False}),
        ("sort-code", N_("Sort code"), NUMERIC | WIDTH[5]),
        ("account-number", N_("Account number"), NUMERIC | WIDTH[10]),
    ),
}


def _parts(shown: _Shown) -> Built:
    parts = []
    for part, label, extra in PART_INPUTS[shown.question.type]:
        name = f"{shown.question.id}-{part}"
        parts.append(
            {
                "id": name,
                "name": name,
                "label": {"text": _(label)},
                "value": shown.text(name),
                "errorMessage": _message(shown.problems, part),
            }
            | extra
        )
    return "fieldset", {"legend": shown.legend}, parts


def file_accept(question: Question) -> str:
    """The accept attribute of a file question's input: 'application/pdf,.pdf,...'."""
    return ",".join(FILE_ACCEPT[kind] for kind in question.file_kinds)


def file_hint(question: Question, lang: str) -> str:
    """A file question's hint in lang, then the kinds and size it takes in the page's
    language: '... The file must be a PDF, JPG or PNG and smaller than 2MB.'"""
    names = ", ".join(KIND_NAMES[kind] for kind in question.file_kinds)
    limit = _("The file must be a %(kinds)s and smaller than %(size)s.") % {
        "kinds": names,
        "size": size_text(question.upload_limit),
    }
    return question.hint.text(lang) + " " + limit if question.hint else limit


def _file(shown: _Shown) -> Built:
    question = shown.question
    hint = file_hint(question, shown.lang)
    if shown.stored is not None:
        hint += " " + _("You have uploaded %(name)s: choose a file only to replace it.") % {
            "name": shown.stored["name"]
        }
    params = {
        "id": question.id,
        "name": question.id,
        "label": shown.label,
        "hint": {"text": hint},
        "attributes": {"accept": file_accept(question)},
    }
    return "file", params, []


_BUILDERS = {
    "text": _input,
    "long-text": _input,
    "number": _input,
    "money": _input,
    "ni-number": _input,
    "email": _input,
    "uk-phone": _input,
    "date": _date,
    "radios": _choices,
    "select": _select,
    "checkboxes": _choices,
    "yes-no": _choices,
    "slots": _choices,
    "uk-address": _parts,
    "bank-details": _parts,
    "file": _file,
}


# --- applications --------------------------------------------------------------------------

STATUS_TAGS: dict[str, tuple[str, str]] = {
    "submitted": (N_("Submitted"), "govuk-tag--blue"),
    "in-review": (N_("In review"), "govuk-tag--yellow"),
    "approved": (N_("Approved"), "govuk-tag--green"),
    "refused": (N_("Refused"), "govuk-tag--red"),
    "withdrawn": (N_("Withdrawn"), "govuk-tag--grey"),
}
BY_WHOM = {"person": N_("You"), "helper": N_("Someone helping you")}


def status_tag(status: str) -> dict[str, str]:
    """The govukTag of a status."""
    found = STATUS_TAGS.get(status)
    if found is None:
        return {"text": status.replace("-", " ").capitalize(), "classes": ""}
    return {"text": _(found[0]), "classes": found[1]}


def by_whom(by: str) -> str:
    """Who made a change, as the applicant reads it: you, your helper, the node's staff."""
    if by in BY_WHOM:
        return _(BY_WHOM[by])
    return _("The service") if by.startswith("action:") else _("Staff")


def event_reason(reason: str | None, own: frozenset[str] = frozenset()) -> str | None:
    """An event's reason as the applicant reads it: one of own, the words the service's
    action writes (handlers.REASONS), in the page's language; what staff typed as it is."""
    return _(reason) if reason and reason in own else reason


def answer_rows(
    questions: Sequence[Question],
    answers: Mapping[str, Any],
    sources: Mapping[str, Any],
    lang: str = "en",
) -> list[dict[str, Any]]:
    """The rows of a submitted application's answers: label, lines, and the register an
    answer came from (None: typed in)."""
    rows = []
    for question in questions:
        if question.id not in answers:
            continue
        source = sources.get(question.id)
        rows.append(
            {
                "label": question.label.text(lang),
                "lines": display_answer(question, answers[question.id], lang),
                "register": source.get("register") if isinstance(source, dict) else None,
            }
        )
    return rows


# --- the staff's case pages ----------------------------------------------------------------

CHANNELS = {
    "digital": N_("Online, by the person"),
    "helper": N_("Online, by someone helping them (a helper with a delegation at the charter)"),
    "assisted": N_("With staff help (assisted digital)"),
}
STAFF_BY = {
    "person": N_("The person"),
    "helper": N_("Their helper"),
    "caseworker": N_("Caseworker"),
    "manager": N_("Manager"),
}
ENTERED_BY = {
    "digital": N_("Typed in by the person"),
    "helper": N_("Typed in by their helper"),
    "assisted": N_("Typed in by staff, as the person told them"),
}


def channel_label(channel: str) -> str:
    """How an application came, as staff read it."""
    return _(CHANNELS[channel]) if channel in CHANNELS else channel


def staff_by(by: str) -> str:
    """Who made a change of an application's history, as staff read it."""
    if by.startswith("action:"):
        return _("The service (%(action)s)") % {"action": by.removeprefix("action:")}
    return _(STAFF_BY[by]) if by in STAFF_BY else by


def moment_text(value: str) -> str:
    """An ISO moment ('2026-11-26T09:05:00+00:00') as '26 November 2026 at 09:05 UTC'."""
    try:
        moment = datetime.fromisoformat(value).astimezone(UTC)
    except (TypeError, ValueError):
        return value
    return _("%(day)s at %(time)s UTC") % {
        "day": format_day(moment.date()),
        "time": f"{moment:%H:%M}",
    }


def source_lines(source: Any, registers: Mapping[str, str], channel: str) -> list[str]:
    """Where an answer came from, for staff: typed in (by whom), or the register, field,
    consent and read that gave it."""
    if not isinstance(source, dict):
        return [_(ENTERED_BY[channel]) if channel in ENTERED_BY else _("Typed in")]
    register = str(source.get("register", ""))
    field = field_label(str(source.get("field")))
    lines = [
        _("From %(register)s: %(field)s")
        % {"register": registers.get(register, register), "field": field},
        _("With the person's consent %(consent)s") % {"consent": source.get("consent_id", "")},
    ]
    if source.get("read_at"):
        read = moment_text(str(source["read_at"]))
        version = source.get("version")
        if version is None:
            lines.append(_("Read %(when)s") % {"when": read})
        else:
            lines.append(
                _("Read %(when)s, version %(version)s") % {"when": read, "version": version}
            )
    return lines


def case_rows(
    questions: Sequence[Question],
    answers: Mapping[str, Any],
    sources: Mapping[str, Any],
    registers: Mapping[str, str],
    channel: str,
    lang: str = "en",
) -> list[dict[str, Any]]:
    """The rows of an application's answers on its case page: label, lines, and where each
    answer came from (registers: a register's member id to its name), the service's words in
    lang."""
    return [
        {
            "label": question.label.text(lang),
            "lines": display_answer(question, answers[question.id], lang),
            "source": source_lines(sources.get(question.id), registers, channel),
        }
        for question in questions
        if question.id in answers
    ]
