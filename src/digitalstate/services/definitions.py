"""Service definition files: one TOML file per service, which a node's settings name.

A "check your details" service is five keys (docs/adr/0008):

    title = "Check your State Pension details"
    description = "See the address and date of birth we use to pay your State Pension."
    purpose = "pension-administration"
    fields = ["people.address", "people.date_of_birth"]
    # holder = "people-register"   notify = true   duration_days = 365  (the defaults)

A transactional service adds its pages of questions, eligibility rules and what happens on
submission (docs/adr/0017, docs/configuration.md "Service definition files"). The checks
across keys (unique ids, conditions on earlier pages, prefill from `fields`, every text in
every language) are the model's own, so a ServiceDefinition that exists is usable.

A file that cannot be used is reported in one line naming the file, the key path
(`pages[2].questions[0].type`), what is wrong and the fix (ServiceDefinitionError, a
SettingsError: the node's settings name the file).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from digitalstate.federation.domain import MEMBER_ID_PATTERN, Catalogue, FederationDocument
from digitalstate.services.conditions import Condition, DefinitionCheckError
from digitalstate.services.domain import (
    CONSENT_DAYS,
    PEOPLE_REGISTER,
    ServiceEntry,
    catalogue_problem,
)
from digitalstate.services.questions import (
    ID_PATTERN,
    LANGUAGE_NAMES,
    LongText,
    Question,
    ShortText,
    Title,
    Wording,
    _Part,
    _wording,
)
from digitalstate.settings import SettingsError

MAX_FILE_BYTES = 64 * 1024
MAX_PAGES = 50
MAX_QUESTIONS_PER_PAGE = 20
MAX_ELIGIBILITY_RULES = 20
SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
PREFIX_PATTERN = r"^[A-Z]{2,4}$"

ACTIONS = frozenset(
    {"record", "electoral-registration", "prison-visit", "state-pension", "change-address"}
)
# The addresses under /services/<slug>/ that every service has: no page may take one as its id.
RESERVED_PAGE_IDS = frozenset(
    {"begin", "consent", "consent-return", "check-answers", "submit", "confirmation"}
    | {"not-eligible", "leave"}
)
_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
    "literal_error": "use one of the values named",
}
_PATTERN_FIXES = {
    "slug": "use 2 to 63 lower-case letters, digits and hyphens, starting with a letter",
    "id": "use lower-case letters, digits, '-' and '_', starting with a letter (48 at most)",
    "value": "use lower-case letters, digits and hyphens, starting with a letter or digit",
    "reference_prefix": "use 2 to 4 capital letters, like RTV",
    "source": "use lower-case letters, digits and hyphens, starting with a letter",
    "prefill": "name a field of the catalogue, like people.date_of_birth",
}


class ServiceDefinitionError(SettingsError):
    """A service definition file that cannot be used; str() is the one-line message."""


class Page(_Part):
    """One question page: shown when show_if holds (always, without one)."""

    id: str = Field(pattern=ID_PATTERN)
    title: ShortText
    show_if: Condition | None = None
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS_PER_PAGE)


class Start(_Part):
    """What the start page says before the button."""

    paragraphs: list[LongText] = Field(min_length=1, max_length=10)
    minutes: int | None = Field(None, ge=1, le=240, description="how long it takes")


class Eligibility(_Part):
    """A rule that stops the person: when condition holds, reason is shown."""

    condition: Condition
    reason: LongText


class Submit(_Part):
    """What submission does: the node's named handler, and the 'what happens next' text."""

    action: str = Field(min_length=1, max_length=64)
    next_steps: LongText

    @field_validator("action")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, Mapping) else {}
        actions = context.get("actions", ACTIONS)
        if value not in actions:
            raise DefinitionCheckError(
                [],
                f"{value!r} is not an action this node runs",
                f"use one of: {', '.join(sorted(actions))}",
            )
        return value


class ServiceDefinition(_Part):
    """What one service definition file holds (the node's own id is the service's member)."""

    slug: str = Field(pattern=SLUG_PATTERN, description="the service's address /services/<slug>")
    languages: list[Literal["en", "cy"]] = Field(["en"], description='["en"] or ["en", "cy"]')
    title: Title = Field(description="the service's name")
    description: Annotated[Wording, _wording(2000)] = Field(description="what it is for")
    purpose: str = Field(min_length=1, description="purpose code of the federation's catalogue")
    fields: list[str] = Field(min_length=1, description="catalogue fields the service reads")
    holder: str = Field(
        PEOPLE_REGISTER, pattern=MEMBER_ID_PATTERN, description="the register it reads them from"
    )
    notify: bool = Field(True, description="ask to be told when the fields change")
    duration_days: int = Field(
        CONSENT_DAYS, ge=1, le=3650, description="how long the person's consent lasts"
    )
    start: Start | None = None
    pages: list[Page] = Field([], max_length=MAX_PAGES)
    eligibility: list[Eligibility] = Field([], max_length=MAX_ELIGIBILITY_RULES)
    submit: Submit | None = None
    reference_prefix: str | None = Field(None, pattern=PREFIX_PATTERN)

    @field_validator("languages")
    @classmethod
    def _english_first(cls, value: list[str]) -> list[str]:
        if value not in (["en"], ["en", "cy"]):
            raise DefinitionCheckError(
                [],
                f"{value} is not a set of languages a service runs in",
                'use ["en"] or ["en", "cy"]',
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServiceDefinition:
        check_journey_keys(self)
        check_wording(self, self.languages)
        check_ids(self)
        check_conditions(self)
        check_prefill(self)
        return self

    @property
    def has_journey(self) -> bool:
        """True for a transactional service (pages of questions), False for check-your-details."""
        return bool(self.pages)

    @property
    def prefix(self) -> str:
        """The reference numbers' prefix: reference_prefix, or the slug's initials."""
        if self.reference_prefix:
            return self.reference_prefix
        words = [word for word in self.slug.split("-") if word[:1].isalpha()]
        initials = "".join(word[0] for word in words)[:4].upper()
        return initials if len(initials) >= 2 else self.slug[:2].upper()

    def questions(self) -> Iterator[tuple[Page, Question]]:
        """Every question with its page, in the order of the pages."""
        for page in self.pages:
            for question in page.questions:
                yield page, question

    def page(self, page_id: str) -> Page | None:
        """The page whose id is page_id."""
        return next((page for page in self.pages if page.id == page_id), None)

    def question(self, question_id: str) -> Question | None:
        """The question whose id is question_id."""
        return next((q for _, q in self.questions() if q.id == question_id), None)

    def question_page(self, question_id: str) -> Page | None:
        """The page that asks the question question_id."""
        return next((p for p, q in self.questions() if q.id == question_id), None)

    def entry(self, member: str) -> ServiceEntry:
        """The service as member runs it."""
        return ServiceEntry(
            member=member,
            title=self.title.text("en"),
            description=self.description.text("en"),
            purpose=self.purpose,
            fields=tuple(self.fields),
            holder=self.holder,
            notify=self.notify,
            duration_days=self.duration_days,
        )


# --- checks across keys --------------------------------------------------------------------


def check_journey_keys(definition: ServiceDefinition) -> None:
    """Pages and [submit] come together; the journey's other keys need pages."""
    if definition.pages and definition.submit is None:
        raise DefinitionCheckError(
            ["submit"],
            "a service with pages needs [submit]",
            'add [submit] with action and next_steps, like action = "record"',
        )
    if not definition.pages:
        for key in ("start", "submit", "reference_prefix"):
            if getattr(definition, key) is not None:
                raise DefinitionCheckError(
                    [key], "only a service with pages has it", "add [[pages]], or remove it"
                )
        if definition.eligibility:
            raise DefinitionCheckError(
                ["eligibility"], "only a service with pages has it", "add [[pages]], or remove it"
            )


def _wordings(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[Any, Wording]]:
    if isinstance(value, Wording):
        yield where, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            key = "in" if name == "in_" else name
            yield from _wordings(getattr(value, name), (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _wordings(item, (*where, index))


def check_wording(definition: ServiceDefinition, languages: Iterable[str]) -> None:
    """Every text is in every language the service declares, and in no other."""
    wanted = list(languages)
    for where, wording in _wordings(definition, ()):
        for lang in wanted:
            if lang not in wording:
                raise DefinitionCheckError(
                    where,
                    f"has no {LANGUAGE_NAMES[lang]} ({lang}) text, but languages has {lang}",
                    'write it as a table: { en = "...", cy = "..." }',
                )
        extra = sorted(set(wording) - set(wanted))
        if extra:
            raise DefinitionCheckError(
                [*where, extra[0]],
                f"the service's languages do not include {extra[0]}",
                f'add "{extra[0]}" to languages, or remove this text',
            )


def check_ids(definition: ServiceDefinition) -> None:
    """Page ids are unique and none is a page every service has (RESERVED_PAGE_IDS); question
    ids are unique across the whole service."""
    pages: set[str] = set()
    questions: set[str] = set()
    for p, page in enumerate(definition.pages):
        if page.id in RESERVED_PAGE_IDS:
            raise DefinitionCheckError(
                ["pages", p, "id"],
                f"{page.id!r} is the address of a page every service has",
                "use another id",
            )
        if page.id in pages:
            raise DefinitionCheckError(
                ["pages", p, "id"], f"{page.id!r} is the id of an earlier page", "use another id"
            )
        pages.add(page.id)
        for q, question in enumerate(page.questions):
            if question.id in questions:
                raise DefinitionCheckError(
                    ["pages", p, "questions", q, "id"],
                    f"{question.id!r} is the id of an earlier question",
                    "use another id: answers are kept by question id",
                )
            questions.add(question.id)


def check_conditions(definition: ServiceDefinition) -> None:
    """Conditions name questions answered before them, with values those questions can have."""
    earlier: dict[str, Question] = {}
    for p, page in enumerate(definition.pages):
        if page.show_if is not None:
            _check_condition(page.show_if, earlier, ("pages", p, "show_if"), "an earlier page")
        earlier.update({question.id: question for question in page.questions})
    for r, rule in enumerate(definition.eligibility):
        _check_condition(rule.condition, earlier, ("eligibility", r, "condition"), "a page")


def _check_condition(
    condition: Condition, known: Mapping[str, Question], where: tuple[str | int, ...], on: str
) -> None:
    for leaf in condition.leaves():
        question = known.get(leaf.question or "")
        if question is None:
            raise DefinitionCheckError(
                [*where, "question"],
                f"{leaf.question!r} is not a question on {on}",
                f"name the id of a question on {on}",
            )
        _check_values(leaf, question, where)


def _check_values(leaf: Condition, question: Question, where: tuple[str | int, ...]) -> None:
    test = leaf.test
    if test in ("age_under", "age_at_least"):
        if question.type != "date":
            raise DefinitionCheckError(
                [*where, test],
                f"{question.id!r} is a {question.type} question, not a date",
                "test the age of a date question",
            )
        return
    values = leaf.values()
    if question.choices is not None:
        allowed: set[Any] = {choice.value for choice in question.choices}
        bad = [value for value in values if value not in allowed or not isinstance(value, str)]
        if bad:
            raise DefinitionCheckError(
                [*where, test],
                f"{bad[0]!r} is not a choice of {question.id!r}",
                f"use one of: {', '.join(sorted(allowed))}",
            )
    elif question.type == "yes-no" and any(not isinstance(v, bool) for v in values):
        raise DefinitionCheckError(
            [*where, test], f"{question.id!r} is a yes-no question", "compare it with true or false"
        )
    elif question.type in ("number", "money") and any(type(v) is not int for v in values):
        raise DefinitionCheckError(
            [*where, test],
            f"{question.id!r} is a {question.type} question",
            "compare it with whole numbers (money in pence)",
        )


def check_prefill(definition: ServiceDefinition) -> None:
    """A question pre-fills only from a field the service reads (and so asks consent for)."""
    for p, page in enumerate(definition.pages):
        for q, question in enumerate(page.questions):
            if question.prefill is not None and question.prefill not in definition.fields:
                raise DefinitionCheckError(
                    ["pages", p, "questions", q, "prefill"],
                    f"{question.prefill!r} is not one of the service's fields",
                    f"add {question.prefill!r} to fields, or pre-fill from one of them",
                )


# --- reading files -------------------------------------------------------------------------


def _where(loc: Iterable[Any]) -> str:
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    return where or "(file)"


def _describe(path: Path, exc: ValidationError) -> str:
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    problem = (error.get("ctx") or {}).get("error")
    if isinstance(problem, DefinitionCheckError):
        where = _where([*error["loc"], *problem.where])
        return f"{path}: {where}: {problem.what}; fix: {problem.fix}{more}"
    loc = [part for part in error["loc"] if part not in ("function-plain",)]
    message = error["msg"].removeprefix("Value error, ")
    fix = _FIXES.get(error["type"], "correct the value")
    if error["type"] == "string_pattern_mismatch":
        message = f"{error['input']!r} does not have the expected form"
        named = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
        fix = _PATTERN_FIXES.get(named, fix)
    return f"{path}: {_where(loc)}: {message}; fix: {fix}{more}"


def slug_of_file(path: Path) -> str | None:
    """The slug a file's name gives when the file sets none: 'Register to vote.toml' is
    'register-to-vote'; None when the name gives no usable slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:63].rstrip("-")
    return slug if re.fullmatch(SLUG_PATTERN, slug) else None


def read_definition(path: Path, *, actions: frozenset[str] = ACTIONS) -> ServiceDefinition:
    """The service definition in the file at path; ServiceDefinitionError if unusable."""
    data = _read_toml(path)
    if "slug" not in data:
        slug = slug_of_file(path)
        if slug is None:
            raise ServiceDefinitionError(
                f"{path}: slug: the file's name gives no slug; fix: add slug = "
                f'"a-name" (lower-case letters, digits and hyphens)'
            )
        data["slug"] = slug
    try:
        return ServiceDefinition.model_validate(data, context={"actions": actions})
    except ValidationError as exc:
        raise ServiceDefinitionError(_describe(path, exc)) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise ServiceDefinitionError(
            f"{path}: no such service definition file; fix: write it, or correct "
            f"[services] files in the node's settings"
        ) from exc
    except OSError as exc:
        raise ServiceDefinitionError(f"{path}: cannot read the file ({exc.strerror})") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ServiceDefinitionError(
            f"{path}: larger than {MAX_FILE_BYTES} bytes; fix: a service definition is a few "
            f"pages, check that [services] files names the right file"
        )
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ServiceDefinitionError(
            f"{path}: not valid UTF-8 TOML ({exc}); fix the syntax at that line"
        ) from exc


def read_definitions(
    paths: Sequence[Path], *, actions: frozenset[str] = ACTIONS
) -> list[ServiceDefinition]:
    """The definitions in paths, each with its own slug; ServiceDefinitionError at the first
    file that is unusable or repeats an earlier file's slug."""
    definitions: list[ServiceDefinition] = []
    seen: dict[str, Path] = {}
    for path in paths:
        definition = read_definition(path, actions=actions)
        if definition.slug in seen:
            raise ServiceDefinitionError(
                duplicate_slug(path, definition.slug, seen[definition.slug])
            )
        seen[definition.slug] = path
        definitions.append(definition)
    return definitions


def duplicate_slug(path: Path, slug: str, first: Path) -> str:
    """The one-line error of a second file with the same slug."""
    return (
        f"{path}: slug: {slug!r} is also the slug of {first}; fix: give each service its own "
        f"slug (set slug, or rename the file)"
    )


def load_service_definition(path: Path, member: str) -> ServiceEntry:
    """The service in the file at path, run by node member; ServiceDefinitionError if unusable."""
    return read_definition(path).entry(member)


def check_against(
    path: Path,
    entry: ServiceEntry,
    document: FederationDocument | Catalogue,
    fix: str | None = None,
) -> str | None:
    """The one-line problem when document's catalogue lacks entry's purpose or fields."""
    problem = catalogue_problem(entry, document)
    if problem is None:
        return None
    key, what = problem
    return f"{path}: {key}: {what}; fix: {fix or CATALOGUE_FIX}"


CATALOGUE_FIX = (
    "use a purpose and fields the federation document's catalogue lists "
    "(GET /.well-known/digitalstate/federation), or have the trust anchor's operator add them"
)
