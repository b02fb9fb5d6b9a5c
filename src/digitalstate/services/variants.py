"""Experiments a service declares: variants of one of its pages, and who sees which (ADR 0027).

An experiment (`[[experiments]]` in a service definition file) changes one question page for a
share of the people who use the service: its variants each have a share (whole percentages
adding up to 100) and may change the page's title, a question's label or hint, the order of
the page's questions, or leave an optional question out. The first variant is the control,
usually one that changes nothing.

Who sees which variant is a pure function of the experiment's id and the person's key (this
node's pseudonym for them): the same person sees the same variant each time, at any worker,
and the shares hold over many people (`assign`). A service's experiments run one at a time,
in the order declared: the first one not yet stopped is running; a stopped experiment's winner
is what everyone sees of it from then on (`shown_definition`).

Leaving a question out is the same as the person leaving it blank, so only an optional
question may be left out, and never one that a condition (a page's show_if, an eligibility
rule) tests, nor a page's only question: what a later step needs is always asked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from digitalstate.services.conditions import DefinitionCheckError
from digitalstate.services.questions import ID_PATTERN, Question, ShortText, _Part

if TYPE_CHECKING:
    from digitalstate.services.definitions import Page, ServiceDefinition

EXPERIMENT_ID_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
VARIANT_ID_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
MAX_EXPERIMENTS = 20
MAX_VARIANTS = 10
TOTAL_SHARE = 100
SEPARATOR = ":"  # "<experiment-id>:<variant-id>", as the events' variant column holds it


class QuestionChange(_Part):
    """What a variant changes of one question on its page: its label, its hint."""

    id: str = Field(pattern=ID_PATTERN, description="the question's id")
    label: ShortText | None = None
    hint: ShortText | None = None


class Variant(_Part):
    """One version of the experiment's page, seen by share percent of people."""

    id: str = Field(pattern=VARIANT_ID_PATTERN)
    share: int = Field(ge=1, le=TOTAL_SHARE, description="percent of people who see it")
    title: ShortText | None = Field(None, description="the page's title instead of its own")
    questions: list[QuestionChange] = Field([], max_length=20)
    order: list[str] | None = Field(None, description="the page's question ids, in a new order")
    leave_out: list[str] = Field([], max_length=20, description="optional questions not asked")


class Experiment(_Part):
    """Variants of one question page of the service."""

    id: str = Field(pattern=EXPERIMENT_ID_PATTERN)
    page: str = Field(pattern=ID_PATTERN, description="the id of the page it changes")
    variants: list[Variant] = Field(min_length=2, max_length=MAX_VARIANTS)

    def variant(self, variant_id: str) -> Variant | None:
        """The variant whose id is variant_id."""
        return next((v for v in self.variants if v.id == variant_id), None)


# --- checks at load ---------------------------------------------------------------------------


def check_experiments(definition: ServiceDefinition) -> None:
    """Every experiment names a page of the service, its variants' shares add up to 100, and
    each variant changes only what is on that page and safe to change."""
    seen: set[str] = set()
    tested = _tested_questions(definition)
    for e, experiment in enumerate(definition.experiments):
        where: tuple[str | int, ...] = ("experiments", e)
        if experiment.id in seen:
            raise DefinitionCheckError(
                [*where, "id"],
                f"{experiment.id!r} is the id of an earlier experiment",
                "use another id",
            )
        seen.add(experiment.id)
        page = definition.page(experiment.page)
        if page is None:
            pages = ", ".join(p.id for p in definition.pages) or "none"
            raise DefinitionCheckError(
                [*where, "page"],
                f"{experiment.page!r} is not a page of the service",
                f"name one of its pages: {pages}",
            )
        total = sum(variant.share for variant in experiment.variants)
        if total != TOTAL_SHARE:
            raise DefinitionCheckError(
                [*where, "variants"],
                f"the variants' shares add up to {total}, not {TOTAL_SHARE}",
                f"make the shares (whole percentages) add up to {TOTAL_SHARE}",
            )
        ids: set[str] = set()
        for v, variant in enumerate(experiment.variants):
            if variant.id in ids:
                raise DefinitionCheckError(
                    [*where, "variants", v, "id"],
                    f"{variant.id!r} is the id of an earlier variant",
                    "use another id",
                )
            ids.add(variant.id)
            _check_variant(variant, page, tested, (*where, "variants", v))


def _tested_questions(definition: ServiceDefinition) -> set[str]:
    """The ids of the questions some condition (show_if, eligibility) tests."""
    conditions = [p.show_if for p in definition.pages if p.show_if is not None]
    conditions += [rule.condition for rule in definition.eligibility]
    return {leaf.question or "" for c in conditions for leaf in c.leaves()}


def _check_variant(
    variant: Variant, page: Page, tested: set[str], where: tuple[str | int, ...]
) -> None:
    on_page = [q.id for q in page.questions]
    here = f"use one of the page's questions: {', '.join(on_page)}"
    for c, change in enumerate(variant.questions):
        if change.id not in on_page:
            raise DefinitionCheckError(
                [*where, "questions", c, "id"], f"{change.id!r} is not on page {page.id!r}", here
            )
    if variant.order is not None and sorted(variant.order) != sorted(on_page):
        raise DefinitionCheckError(
            [*where, "order"],
            f"{variant.order} is not an order of the page's questions",
            f"list each of {', '.join(on_page)} once",
        )
    for q, question_id in enumerate(variant.leave_out):
        question = next((x for x in page.questions if x.id == question_id), None)
        at = [*where, "leave_out", q]
        if question is None:
            raise DefinitionCheckError(at, f"{question_id!r} is not on page {page.id!r}", here)
        if question.required:
            raise DefinitionCheckError(
                at,
                f"{question_id!r} is a required question: the service needs its answer",
                "leave out only an optional question (required = false), or remove it here",
            )
        if question_id in tested:
            raise DefinitionCheckError(
                at,
                f"a condition (show_if or eligibility) tests {question_id!r}",
                "leave out only a question no condition tests, or remove it here",
            )
    if len(set(variant.leave_out)) >= len(on_page):
        raise DefinitionCheckError(
            [*where, "leave_out"],
            f"it leaves out every question of page {page.id!r}",
            "keep at least one question on the page",
        )


# --- who sees what ----------------------------------------------------------------------------


def bucket(experiment_id: str, key: str) -> int:
    """The person's place, 0 to 99, in the experiment experiment_id: from a hash of the
    experiment's id and the person's key, so that one person's places in two experiments are
    independent of each other."""
    digest = hashlib.sha256(f"{experiment_id}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % TOTAL_SHARE


def assign(experiment: Experiment, key: str) -> Variant:
    """The variant of experiment the person whose key is key sees (always the same one)."""
    place = bucket(experiment.id, key)
    upper = 0
    for variant in experiment.variants:
        upper += variant.share
        if place < upper:
            return variant
    return experiment.variants[-1]  # the shares add up to 100: never reached


def label(experiment: Experiment, variant: Variant) -> str:
    """The variant as events record it: "<experiment-id>:<variant-id>"."""
    return f"{experiment.id}{SEPARATOR}{variant.id}"


def changed_page(page: Page, variant: Variant) -> Page:
    """page as variant shows it (what the variant names that is no longer there is skipped)."""
    left_out = set(variant.leave_out)
    questions: list[Question] = [q for q in page.questions if q.id not in left_out]
    if variant.order is not None:
        place = {question_id: n for n, question_id in enumerate(variant.order)}
        questions.sort(key=lambda q: place.get(q.id, len(place)))
    changes = {change.id: change for change in variant.questions}
    worded = [_reworded(q, changes[q.id]) if q.id in changes else q for q in questions]
    update: dict[str, object] = {"questions": worded or page.questions}
    if variant.title is not None:
        update["title"] = variant.title
    return page.model_copy(update=update)


def _reworded(question: Question, change: QuestionChange) -> Question:
    update = {name: getattr(change, name) for name in ("label", "hint")}
    return question.model_copy(update={k: v for k, v in update.items() if v is not None})


def changed_definition(
    definition: ServiceDefinition, experiment: Experiment, variant: Variant
) -> ServiceDefinition:
    """definition with experiment's page as variant shows it."""
    pages = [
        changed_page(page, variant) if page.id == experiment.page else page
        for page in definition.pages
    ]
    return definition.model_copy(update={"pages": pages})


def running_experiment(
    definition: ServiceDefinition, winners: Mapping[str, str]
) -> Experiment | None:
    """The experiment running: the first declared that is not stopped (winners holds the
    stopped ones' winning variant ids by experiment id); None when every one is stopped."""
    return next((e for e in definition.experiments if e.id not in winners), None)


def shown_definition(
    definition: ServiceDefinition, winners: Mapping[str, str], key: str | None
) -> tuple[ServiceDefinition, str | None]:
    """The definition as the person with key sees it, and the variant recorded with their
    journey's events ("<experiment>:<variant>", None when no experiment runs or key is None).

    Stopped experiments show their winners to everyone; the running one shows the person's
    variant, or to a person without key (assisted digital, ADR 0027) its first variant, unrecorded.
    """
    shown = definition
    for experiment in definition.experiments:
        winner = experiment.variant(winners[experiment.id]) if experiment.id in winners else None
        if winner is not None:
            shown = changed_definition(shown, experiment, winner)
    running = running_experiment(definition, winners)
    if running is None:
        return shown, None
    variant = assign(running, key) if key is not None else running.variants[0]
    shown = changed_definition(shown, running, variant)
    return shown, label(running, variant) if key is not None else None


def split_label(recorded: str) -> tuple[str, str]:
    """(experiment id, variant id) of a recorded variant."""
    experiment_id, _, variant_id = recorded.partition(SEPARATOR)
    return experiment_id, variant_id


def experiment_of(definition: ServiceDefinition, experiment_id: str) -> Experiment | None:
    """The experiment of definition whose id is experiment_id."""
    return next((e for e in definition.experiments if e.id == experiment_id), None)


def variant_ids(experiment: Experiment) -> Sequence[str]:
    """The ids of experiment's variants, the control first."""
    return [variant.id for variant in experiment.variants]
