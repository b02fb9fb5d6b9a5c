"""The rules of feedback: the satisfaction scale, what a story may hold, and what moderation flags.

Plain values and functions: no web framework, database or HTTP client (the domain contract).
A story is held for moderation whatever it says; the rules here say what a moderator should
look at first and why (docs/feedback.md#moderation, docs/adr/0026).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

import phonenumbers

from digitalstate.publishing.domain import starts_like_formula
from digitalstate.web.i18n import N_

# --- satisfaction ------------------------------------------------------------------------------

SATISFACTION: dict[int, str] = {
    5: N_("Very satisfied"),
    4: N_("Satisfied"),
    3: N_("Neither satisfied or dissatisfied"),
    2: N_("Dissatisfied"),
    1: N_("Very dissatisfied"),
}
"""The five-point scale of the GOV.UK satisfaction question, best first, as the form lists it."""
SATISFIED = frozenset({4, 5})
"""The answers the user satisfaction KPI counts as satisfied."""
End = Literal["done", "refused", "left"]
ENDS: tuple[End, ...] = get_args(End)
"""The end points of a declared service the question is asked at."""
MAX_COMMENT = 1200
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def rating_of(value: str) -> int | None:
    """The answer 1..5 a form's radio sent, or None when it is not one of them."""
    return int(value) if value in {"1", "2", "3", "4", "5"} else None


# --- stories -----------------------------------------------------------------------------------

Status = Literal["held", "published", "rejected"]
STATUSES: tuple[Status, ...] = get_args(Status)
STATUS_LABELS: dict[str, str] = {
    "held": N_("Waiting for moderation"),
    "published": N_("Published"),
    "rejected": N_("Rejected"),
}
Change = Literal["none", "planned", "made"]
CHANGES: tuple[Change, ...] = get_args(Change)
CHANGE_LABELS: dict[str, str] = {
    "none": N_("No change"),
    "planned": N_("Change planned"),
    "made": N_("Change made"),
}
MAX_TITLE = 120
MAX_BODY = 5000
MAX_RESPONSE = 3000
MAX_REASON = 500
MAX_TAGS = 5
MAX_TAG = 30
MAX_TAGS_TEXT = MAX_TAGS * (MAX_TAG + 2)
TAG = re.compile(r"[a-z0-9]+(?:[ -][a-z0-9]+)*")
TAGS_PROBLEM = N_("Enter up to %(num)s tags, separated by commas, each of letters and numbers")
"""What the tags' field says when parse_tags refuses them (the story form, de-identifying)."""


@dataclass(frozen=True)
class StoryDraft:
    """What a person told, parsed within bounds: about which node and service, and the text."""

    node: str
    service: str | None
    title: str
    body: str
    tags: tuple[str, ...]


def clean_text(text: str) -> str:
    """text with its line endings as \\n, control characters (not newlines) gone, trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = (c for c in text if c == "\n" or not unicodedata.category(c).startswith("C"))
    return "".join(kept).strip()


def parse_tags(text: str) -> tuple[tuple[str, ...], str | None]:
    """The tags typed as a comma-separated list (lower case, each once, in order) and why
    they cannot be used, or None."""
    if len(text) > MAX_TAGS_TEXT:
        return (), f"the tags are longer than {MAX_TAGS_TEXT} characters"
    tags: list[str] = []
    for part in text.split(","):
        tag = " ".join(part.casefold().split())
        if not tag or tag in tags:
            continue
        if len(tag) > MAX_TAG or not TAG.fullmatch(tag):
            return (), f"{tag[:MAX_TAG]!r} is not a tag: use letters, numbers, spaces and hyphens"
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        return (), f"a story has at most {MAX_TAGS} tags"
    return tuple(tags), None


def length_problem(text: str, most: int) -> str | None:
    """Why text is too long (over most characters), or None."""
    return f"longer than {most:,} characters" if len(text) > most else None


# --- moderation rules --------------------------------------------------------------------------

FlagKind = Literal["name", "phone", "email", "nino", "pattern", "abuse", "formula"]
FLAG_LABELS: dict[str, str] = {
    "name": N_("A person's name"),
    "phone": N_("A phone number"),
    "email": N_("An email address"),
    "nino": N_("A National Insurance number"),
    "pattern": N_("Personal data (a pattern this node looks for)"),
    "abuse": N_("Abusive words"),
    "formula": N_("Starts like a spreadsheet formula"),
}
# Words that introduce a name ("my name is Ann", "I'm called Ann", "my son Tom").
INTRODUCERS = (
    r"my name is",
    r"my name's",
    r"i am called",
    r"i'm called",
    r"call me",
    r"signed",
    r"my (?:husband|wife|partner|son|daughter|mother|father|mum|dad|carer|friend|neighbour)"
    r"(?:,)?",
    r"(?:spoke|spoken|talked) (?:to|with)",
    r"(?:nurse|doctor|officer|adviser|advisor|caseworker|manager)",
)
_NAME_WORD = r"[A-Z](?:[a-z]+|['\u2019][A-Z][a-z]+)(?:-[A-Z][a-z]+)?"  # Ann, O'Brien, Smith-Jones
# The introducer in any case, the name capitalised.
_INTRODUCED = re.compile(rf"\b(?i:{'|'.join(INTRODUCERS)})\s+({_NAME_WORD}(?:\s+{_NAME_WORD})?)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
# A National Insurance number's shape: two letters, six digits, a letter A-D, spaces allowed
# between the pairs. Wider than the numbers issued (QQ 12 34 56 C, the usual example, is
# caught too): a flag costs a moderator a look, a miss publishes a number.
_NINO = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b", re.IGNORECASE)
MIN_PHONE_DIGITS = 10  # shorter runs of digits are references, counts and dates, not numbers
MAX_EXCERPT = 60


@dataclass(frozen=True)
class Flag:
    """Why a story needs a moderator's care: what kind of thing, and the words that show it."""

    kind: FlagKind
    excerpt: str

    @property
    def label(self) -> str:
        """The kind of thing, as a moderator reads it (English; translate where shown)."""
        return FLAG_LABELS[self.kind]


@dataclass(frozen=True)
class Rules:
    """What the node looks for in a story ([feedback] settings, checked there when the node
    loads them; docs/configuration.md#feedback)."""

    titles: tuple[str, ...] = ()
    name_patterns: tuple[str, ...] = ()
    abuse_words: tuple[str, ...] = ()
    phone_region: str = "GB"
    _compiled: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        titles = "|".join(re.escape(t) for t in self.titles)
        compiled = self._compiled
        if titles:
            compiled["titles"] = re.compile(rf"\b(?:{titles})\.?\s+({_NAME_WORD})")
        for index, pattern in enumerate(self.name_patterns):
            compiled[f"pattern{index}"] = re.compile(pattern)
        words = "|".join(re.escape(w.casefold()) for w in self.abuse_words if w.strip())
        if words:
            compiled["abuse"] = re.compile(rf"\b(?:{words})\b", re.IGNORECASE)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT - 1] + "…"


def flag_text(text: str, rules: Rules) -> tuple[Flag, ...]:
    """What in text a moderator should look at: names, phone numbers, email addresses,
    National Insurance numbers, the node's own patterns and abusive words, each once, in
    that order. The text is bounded by the caller (a story's title, body and tags)."""
    found: list[Flag] = []

    def add(kind: FlagKind, matches: Iterable[str]) -> None:
        for match in matches:
            flag = Flag(kind, _excerpt(match))
            if flag not in found:
                found.append(flag)

    compiled = rules._compiled
    add("name", (m.group(1) for m in _INTRODUCED.finditer(text)))
    if "titles" in compiled:
        add("name", (m.group(0) for m in compiled["titles"].finditer(text)))
    add("phone", _phone_numbers(text, rules.phone_region))
    add("email", (m.group(0) for m in _EMAIL.finditer(text)))
    add("nino", (m.group(0) for m in _NINO.finditer(text)))
    for index in range(len(rules.name_patterns)):
        add("pattern", (m.group(0) for m in compiled[f"pattern{index}"].finditer(text)))
    if "abuse" in compiled:
        add("abuse", (m.group(0) for m in compiled["abuse"].finditer(text)))
    return tuple(found)


def formula_flags(*texts: str) -> tuple[Flag, ...]:
    """A flag for each text (a story's title, its body) that a spreadsheet would run as a
    formula when it opens the stories' CSV: the moderator decides whether to publish it as
    told (the CSV keeps it as text all the same: publishing.domain.spreadsheet_safe) or to
    edit it in de-identifying. Tags cannot start so (TAG)."""
    return tuple(Flag("formula", _excerpt(text)) for text in texts if starts_like_formula(text))


def _phone_numbers(text: str, region: str) -> list[str]:
    leniency = phonenumbers.Leniency.POSSIBLE  # made-up numbers (01632 960 ...) still count
    found = []
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
        if sum(c.isdigit() for c in match.raw_string) >= MIN_PHONE_DIGITS:
            found.append(match.raw_string)
    return found


def flags_to_json(flags: Sequence[Flag]) -> list[dict[str, str]]:
    """Flags as they are stored: [{"kind": ..., "excerpt": ...}]."""
    return [{"kind": f.kind, "excerpt": f.excerpt} for f in flags]


def flags_from_json(data: object) -> tuple[Flag, ...]:
    """Flags as stored, read back (what is not a flag is skipped)."""
    if not isinstance(data, list):
        return ()
    kinds = set(FLAG_LABELS)
    return tuple(
        Flag(item["kind"], str(item.get("excerpt", "")))
        for item in data
        if isinstance(item, dict) and item.get("kind") in kinds
    )


# --- responses ---------------------------------------------------------------------------------


def change_of(value: str) -> Change | None:
    """The change a response's form chose, or None when it is not one."""
    for change in CHANGES:
        if value == change:
            return change
    return None


# --- what the public reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class PublicResponse:
    """A response as the public reads it: the role that answered, never the name."""

    role: str
    body: str
    change: str
    at: datetime


@dataclass(frozen=True)
class PublicStory:
    """A published story as the public reads it (its public text only)."""

    id: str
    node: str
    service: str | None
    title: str
    body: str
    tags: tuple[str, ...]
    change: str
    published_at: datetime
    responses: tuple[PublicResponse, ...] = ()
    response_count: int = 0


@dataclass(frozen=True)
class DatasetResponse:
    """A response in the responses dataset: its story and what anyone may read of it."""

    story_id: str
    response: PublicResponse
