"""The questions of a service definition: their types, options and wording (ADR 0017).

A question is one answer of a known type (services/fields.py parses each type); the options
a type takes are listed in OPTIONS, and one it does not take is an error. Every text is a
Wording: a string (English) or a table of the service's languages. Checks across questions
and pages are services/definitions.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

from digitalstate.services.conditions import DefinitionCheckError
from digitalstate.web.i18n import PSEUDO, _, current_language

MAX_CHOICES = 100
ID_PATTERN = r"^[a-z][a-z0-9_-]{0,47}$"
LANGUAGES = ("en", "cy")
LANGUAGE_NAMES = {"en": "English", "cy": "Welsh"}
SHORT_TEXT = 300
LONG_TEXT = 5000

# The submission handlers a node can run (the code side of [submit] action, ADR 0017).

QuestionType = Literal[
    "text",
    "long-text",
    "number",
    "money",
    "date",
    "radios",
    "checkboxes",
    "select",
    "yes-no",
    "uk-address",
    "ni-number",
    "email",
    "uk-phone",
    "bank-details",
    "file",
    "slots",
]
CHOICE_TYPES = frozenset({"radios", "checkboxes", "select"})
LIST_TYPES = frozenset({"checkboxes", "slots"})
# The options each type takes (every other option is an error on it), and those it needs.
OPTIONS: dict[str, frozenset[str]] = {
    "text": frozenset({"max_length"}),
    "long-text": frozenset({"max_length"}),
    "number": frozenset({"min", "max"}),
    "money": frozenset({"min", "max"}),
    "date": frozenset({"when"}),
    "radios": frozenset({"choices"}),
    "checkboxes": frozenset({"choices", "max_choices"}),
    "select": frozenset({"choices"}),
    "file": frozenset({"accept", "max_bytes"}),
    "slots": frozenset({"source", "max_choices"}),
}
NEEDED: dict[str, frozenset[str]] = {
    "radios": frozenset({"choices"}),
    "checkboxes": frozenset({"choices"}),
    "select": frozenset({"choices"}),
    "slots": frozenset({"source", "max_choices"}),
}
OPTION_NAMES: tuple[str, ...] = ("choices", "max_length", "min", "max", "max_choices")
OPTION_NAMES += ("source", "accept", "max_bytes", "when")
# A register's value can stand as the answer of these types as it is (same normal form).
PREFILL_TYPES = frozenset({"text", "long-text", "date", "uk-address", "email", "uk-phone"})
PREFILL_TYPES |= frozenset({"ni-number"})
# Bounds on what a definition may allow, even when it says more.
MAX_TEXT_LENGTH = {"text": 500, "long-text": 10_000}
TEXT_LENGTH_BOUND = 10_000
DEFAULT_TEXT_LENGTH = {"text": 200, "long-text": 1200}
NUMBER_BOUND = 10**12
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_UPLOAD_BYTES = 2 * 1024 * 1024
FILE_KINDS = ("pdf", "jpeg", "png")


# --- texts in one or two languages ---------------------------------------------------------


class Wording(dict[str, str]):
    """A text in each language a service declares: {"en": ..., "cy": ...}."""

    def text(self, lang: str) -> str:
        """The text in lang, or in English where lang has none."""
        return self.get(lang) or self["en"]


def _wording(max_chars: int) -> Any:
    def check(value: Any) -> Wording:
        if isinstance(value, str):
            value = {"en": value}
        if not isinstance(value, Mapping) or not value:
            raise ValueError('must be text, or a table like { en = "...", cy = "..." }')
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            raise ValueError(f"{', '.join(map(str, unknown))} is not a language: use en and cy")
        for lang, text in value.items():
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"the {LANGUAGE_NAMES[lang]} ({lang}) text is empty")
            if len(text) > max_chars:
                raise ValueError(f"must be at most {max_chars} characters ({lang})")
        return Wording(value)

    return PlainValidator(check)


Title = Annotated[Wording, _wording(200)]
ShortText = Annotated[Wording, _wording(SHORT_TEXT)]
LongText = Annotated[Wording, _wording(LONG_TEXT)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- questions, pages and the rest ---------------------------------------------------------


class Choice(_Part):
    """One answer of a radios, checkboxes or select question."""

    value: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    label: ShortText
    hint: ShortText | None = None


class Question(_Part):
    """One question: its answer's type, its wording, and the type's options."""

    id: str = Field(pattern=ID_PATTERN)
    type: QuestionType
    label: ShortText
    hint: ShortText | None = None
    error_name: ShortText | None = Field(
        None, description="what error messages call the answer: 'your date of birth'"
    )
    required: bool = True
    prefill: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    choices: list[Choice] | None = Field(None, min_length=1, max_length=MAX_CHOICES)
    max_length: int | None = Field(None, ge=1, le=TEXT_LENGTH_BOUND)
    min: int | None = Field(None, ge=-NUMBER_BOUND, le=NUMBER_BOUND)
    max: int | None = Field(None, ge=-NUMBER_BOUND, le=NUMBER_BOUND)
    max_choices: int | None = Field(None, ge=1, le=MAX_CHOICES)
    source: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{0,62}$")
    accept: list[Literal["pdf", "jpeg", "png"]] | None = Field(None, min_length=1)
    max_bytes: int | None = Field(None, ge=1, le=MAX_UPLOAD_BYTES)
    when: Literal["past", "future", "today-or-past", "today-or-future"] | None = None

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> Question:
        allowed = OPTIONS.get(self.type, frozenset())
        for name in OPTION_NAMES:
            if getattr(self, name) is not None and name not in allowed:
                takes = ", ".join(sorted(allowed)) or "none"
                raise DefinitionCheckError(
                    [name],
                    f"a {self.type} question has no option {name} (its options: {takes})",
                    "remove it, or change the type",
                )
        for name in sorted(NEEDED.get(self.type, frozenset()) - self._given()):
            raise DefinitionCheckError([name], f"a {self.type} question needs {name}", "add it")
        self._check_bounds()
        return self

    def _given(self) -> set[str]:
        return {name for name in OPTION_NAMES if getattr(self, name) is not None}

    def _check_bounds(self) -> None:
        if self.type in MAX_TEXT_LENGTH and self.max_length is not None:
            bound = MAX_TEXT_LENGTH[self.type]
            if self.max_length > bound:
                raise DefinitionCheckError(
                    ["max_length"],
                    f"a {self.type} answer is at most {bound} characters",
                    f"use {bound} or less",
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise DefinitionCheckError(["max"], "max is less than min", "make max at least min")
        if self.choices is not None:
            values = [choice.value for choice in self.choices]
            if len(set(values)) != len(values):
                raise DefinitionCheckError(
                    ["choices"], "two choices have the same value", "give each its own value"
                )
            if self.max_choices is not None and self.max_choices > len(values):
                raise DefinitionCheckError(
                    ["max_choices"],
                    f"max_choices is more than the {len(values)} choices",
                    "lower it, or leave it out to allow every choice",
                )
        if self.prefill is not None and self.type not in PREFILL_TYPES:
            raise DefinitionCheckError(
                ["prefill"],
                f"a {self.type} question cannot be pre-filled from a register",
                f"remove it, or use one of the types {', '.join(sorted(PREFILL_TYPES))}",
            )

    @property
    def text_limit(self) -> int:
        """The most characters a text or long-text answer may have."""
        return self.max_length or DEFAULT_TEXT_LENGTH.get(self.type, MAX_TEXT_LENGTH["text"])

    @property
    def upload_limit(self) -> int:
        """The largest file a file question takes, in bytes."""
        return self.max_bytes or DEFAULT_UPLOAD_BYTES

    @property
    def file_kinds(self) -> tuple[str, ...]:
        """The kinds of file a file question takes: pdf, jpeg, png."""
        return tuple(self.accept or FILE_KINDS)

    def subject(self, lang: str = "en") -> str:
        """What error messages call the answer: error_name, or else the label, its first
        letter in lower case unless another word is capitalised too ('Full name' is 'full
        name' in 'Enter full name'; 'National Insurance number' stays as it is)."""
        if self.error_name is not None:
            return self.error_name.text(lang)
        label = self.label.text(lang).rstrip("?").strip()
        first, *others = label.split(" ")
        if first[1:].islower() and not any(word[:1].isupper() for word in others):
            return first[:1].lower() + label[1:]
        return label

    def named(self, message: str) -> str:
        """message, a pattern that names the answer (%(subject)s), in the page's language
        when the service words the question in it (and in the pseudo-locale), else in English:
        a Welsh pattern never holds an English name. Only "Enter ...", "Select ..." and "Select
        yes if ..." are such patterns: the messages that put the name elsewhere in the sentence
        ("... must be a real date") are patterns Welsh cannot follow (the name takes a mutation
        or a contraction from the words before it), so they name it in English and stay English
        (docs/i18n.md)."""
        language = current_language()
        if language == PSEUDO or language in self.label:
            return _(message) % {"subject": self.subject(language)}
        return message % {"subject": self.subject()}

    def choice_label(self, value: Any, lang: str = "en") -> str:
        """The label of the choice whose value is value (the value itself if none)."""
        for choice in self.choices or ():
            if choice.value == value:
                return choice.label.text(lang)
        return str(value)
