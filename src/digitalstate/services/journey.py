"""The journey through a service: a pure function of its definition and the answers so far.

Which pages are shown (a page whose show_if does not hold is skipped), which page comes
after another, the first page still missing a required answer, what is submitted (answers
on pages that are no longer shown are dropped), the rows of check your answers with their
change links, and whether an eligibility rule stops the person (ADR 0017). Pages hold no
state: the draft holds the answers, and every step is computed again from them.

A page's show_if is tested on the answers of the pages shown before it only, so an answer
left on a page that a later change hid never shows or hides anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from digitalstate.performance.domain import MAX_JOURNEY_CHARS
from digitalstate.services.conditions import holds
from digitalstate.services.definitions import Page, ServiceDefinition
from digitalstate.services.display import display_answer
from digitalstate.services.fields import input_names
from digitalstate.services.questions import Question, Wording

Answers = Mapping[str, Any]  # question id -> typed answer (fields.parse's Answer.value)
CHECK_PAGE = "check-answers"
RETURN_TO_CHECK = "return=check"


def answered(value: Any) -> bool:
    """True for an answer given (not None, not an empty text or list)."""
    return value is not None and value != "" and value != []


def visible_pages(definition: ServiceDefinition, answers: Answers, today: date) -> list[Page]:
    """The pages shown for answers, in order."""
    shown: list[Page] = []
    seen: dict[str, Any] = {}
    for page in definition.pages:
        if page.show_if is None or holds(page.show_if, seen, today):
            shown.append(page)
            seen.update({q.id: answers[q.id] for q in page.questions if q.id in answers})
    return shown


def submitted_answers(
    definition: ServiceDefinition, answers: Answers, today: date
) -> dict[str, Any]:
    """The answers of the pages shown, in the order of the questions: what is submitted."""
    return {
        question.id: answers[question.id]
        for page in visible_pages(definition, answers, today)
        for question in page.questions
        if question.id in answers and answered(answers[question.id])
    }


def next_page(
    definition: ServiceDefinition, answers: Answers, after: str | None, today: date
) -> Page | None:
    """The page shown after the page whose id is after (None: the first page); None when
    check your answers comes next."""
    pages = visible_pages(definition, answers, today)
    if after is None:
        return pages[0] if pages else None
    ids = [page.id for page in definition.pages]
    if after not in ids:
        raise KeyError(after)
    position = ids.index(after)
    return next((page for page in pages if ids.index(page.id) > position), None)


def previous_page(
    definition: ServiceDefinition, answers: Answers, before: str, today: date
) -> Page | None:
    """The page shown before the page whose id is before (None: it is the first): the back link."""
    ids = [page.id for page in definition.pages]
    position = ids.index(before)
    earlier = [p for p in visible_pages(definition, answers, today) if ids.index(p.id) < position]
    return earlier[-1] if earlier else None


def missing(page: Page, answers: Answers) -> list[Question]:
    """The required questions of page that have no answer."""
    return [q for q in page.questions if q.required and not answered(answers.get(q.id))]


def first_incomplete(definition: ServiceDefinition, answers: Answers, today: date) -> Page | None:
    """The first page shown that misses a required answer; None when every one is answered."""
    return next((p for p in visible_pages(definition, answers, today) if missing(p, answers)), None)


def first_unanswered(definition: ServiceDefinition, answers: Answers, today: date) -> Page | None:
    """The first page shown that was never answered (an optional question left blank is kept
    as None, so a page answered is one whose every question has a key) or misses a required
    answer: where a person coming back carries on. None when every page shown is answered."""
    return next(
        (
            page
            for page in visible_pages(definition, answers, today)
            if missing(page, answers) or any(q.id not in answers for q in page.questions)
        ),
        None,
    )


@dataclass(frozen=True, slots=True)
class Ineligible:
    """An eligibility rule that holds: the person cannot go on, and why."""

    rule: int
    reason: Wording


def eligibility(definition: ServiceDefinition, answers: Answers, today: date) -> Ineligible | None:
    """The first eligibility rule that holds for the answers shown (None: nothing stops them)."""
    shown = submitted_answers(definition, answers, today)
    for index, rule in enumerate(definition.eligibility):
        if holds(rule.condition, shown, today):
            return Ineligible(index, rule.reason)
    return None


@dataclass(frozen=True, slots=True)
class Row:
    """One row of check your answers: the question, the answer's lines, and where to change it."""

    question: str  # the question's id
    label: str
    value: list[str]
    change: str  # a path: /services/<slug>/<page>?return=check#<first input>


def change_link(
    definition: ServiceDefinition, page: Page, question: Question, base: str | None = None
) -> str:
    """Where the change link of question goes: its page (under base, the journey's pages:
    /services/<slug> by default), back to check your answers after."""
    anchor = input_names(question)[0]
    where = base or f"/services/{definition.slug}"
    return f"{where}/{page.id}?{RETURN_TO_CHECK}#{anchor}"


def check_answers_rows(
    definition: ServiceDefinition,
    answers: Answers,
    today: date,
    lang: str = "en",
    base: str | None = None,
) -> list[Row]:
    """The rows of check your answers: every question of the pages shown, in order (change
    links under base, as change_link)."""
    return [
        Row(
            question=question.id,
            label=question.label.text(lang),
            value=display_answer(question, answers.get(question.id), lang),
            change=change_link(definition, page, question, base),
        )
        for page in visible_pages(definition, answers, today)
        for question in page.questions
    ]


JOURNEY_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_JOURNEY_CHARS}}}")
"""A journey's id as a link may carry it (its draft's id)."""
FEEDBACK_PATH = "/feedback"


def feedback_link(slug: str, end: str, journey_id: str) -> str:
    """The satisfaction question of the service slug at an end point (done, refused, left),
    with the journey's id when it is one (docs/feedback.md)."""
    query = {"end": end} | ({"journey": journey_id} if JOURNEY_ID.fullmatch(journey_id) else {})
    return f"{FEEDBACK_PATH}/{slug}?{urlencode(query)}"
