"""A declared service as a node runs it, and what its question pages take and give.

`Journey` is a service with pages and the entry it reads registers under. The rest is what a
question page needs besides the definition and the draft: the values a register gave under
the person's consent that can answer its questions (`held_values`), what a slot source offers
now (`offered`, and at submission `slots_gone`), and the answers of a posted page with their
sources and problems (`take_answers`). The page's form is bounded by its questions
(`form_bound`), and a page with files by their limits (`upload_body_limit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from digitalstate.services.definitions import Page, ServiceDefinition
from digitalstate.services.display import display_answer
from digitalstate.services.domain import ServiceEntry
from digitalstate.services.drafts import ENTERED
from digitalstate.services.fields import Answer, Problem, form_values, input_names, parse
from digitalstate.services.filetypes import Upload
from digitalstate.services.handlers import SLOT_SOURCES, SlotRequest
from digitalstate.services.journey import answered
from digitalstate.services.presenter import USE_HELD, HeldValue, held_input, held_name
from digitalstate.services.questions import Question
from digitalstate.services.service import copy_for
from digitalstate.storage.retrying import run_step
from digitalstate.web.hardening import FORM_MAX_FIELDS
from digitalstate.web.i18n import ENGLISH, _
from digitalstate.web.languages import request_language

if TYPE_CHECKING:
    from starlette.requests import Request

    from digitalstate.node.runtime import NodeRuntime

SERVICES_PATH = "/services"
# Bounds of a question page's form beyond its own inputs: the CSRF token, a few spare.
FORM_SPARE_FIELDS = 10
MAX_OFFERED = 200  # a slot source's choices shown at most


def text_language(request: Request, definition: ServiceDefinition) -> str:
    """The language of definition's own texts on request's page: the page's language when
    the service declares it (`languages`), else English (the page's chrome stays in the
    page's language)."""
    language = request_language(request)
    return language if language in definition.languages else ENGLISH


@dataclass(frozen=True)
class Journey:
    """A service with pages, as this node runs it (or as one person sees it, with the
    variant of its running experiment recorded on their events: JourneyFlow.shown)."""

    definition: ServiceDefinition
    entry: ServiceEntry
    variant: str | None = None  # "<experiment-id>:<variant-id>" (services/variants.py)

    @property
    def slug(self) -> str:
        """The service's address, /services/<slug>."""
        return self.definition.slug

    @property
    def path(self) -> str:
        """The start page's path."""
        return f"{SERVICES_PATH}/{self.slug}"

    @property
    def prefills(self) -> bool:
        """True when a question can be answered from a register, under consent."""
        return any(q.prefill for _, q in self.definition.questions())

    def file_questions(self, page: Page) -> list[Question]:
        """The page's file questions."""
        return [q for q in page.questions if q.type == "file"]


def register_name(node: NodeRuntime, member_id: str) -> str:
    """A register's name as the federation document gives it (its member id without one)."""
    document = node.keeper.document
    member = document.member(member_id) if document is not None else None
    return member.name if member is not None else member_id


def form_bound(page: Page) -> int:
    """The most fields a page's form may have: each input, each choice, the yes/no of a
    pre-filled question, and a few spare."""
    total = FORM_SPARE_FIELDS
    for question in page.questions:
        if question.type == "checkboxes":
            total += len(question.choices or ())
        elif question.type == "slots":
            total += MAX_OFFERED
        else:
            total += len(input_names(question)) + 1
    return max(total, FORM_MAX_FIELDS)


def upload_body_limit(page: Page, cap: int, base: int) -> int:
    """The body a page with file questions may have: each file at its limit, and the rest."""
    return base + sum(min(q.upload_limit, cap) for q in page.questions if q.type == "file")


def capped(question: Question, cap: int) -> Question:
    """question with the node's upload cap applied to its file limit."""
    if question.type != "file" or question.upload_limit <= cap:
        return question
    return question.model_copy(update={"max_bytes": cap})


async def held_values(
    node: NodeRuntime, journey: Journey, subject: str, today: date
) -> dict[str, HeldValue]:
    """The register's values the service holds for subject under an active consent, for each
    question they can answer (and that would take them as they are)."""
    if not journey.prefills:
        return {}
    held = await run_step(node.sessions, lambda s: copy_for(s, subject, journey.entry))
    if held is None or held.data is None or held.read_at is None:
        return {}
    source = {
        "register": held.holder,
        "consent_id": held.consent_id,
        "read_at": held.read_at.isoformat(),
        "version": held.version,
    }
    values: dict[str, HeldValue] = {}
    for _page, question in journey.definition.questions():
        value = held.data.get(question.prefill or "")
        if question.prefill is None or value is None:
            continue
        # Offered only when the question takes it as it is (its own limits apply).
        parsed = parse(question, form_values(question, value), today=today)
        if isinstance(parsed, Answer) and answered(parsed.value):
            values[question.id] = HeldValue(
                question.prefill, parsed.value, {**source, "field": question.prefill}
            )
    return values


async def offered(
    node: NodeRuntime,
    journey: Journey,
    questions: Sequence[Question],
    subject: str,
    answers: Mapping[str, Any],
    today: date,
) -> dict[str, list[str]]:
    """What each slots question's source offers now."""
    found: dict[str, list[str]] = {}
    for question in questions:
        source = SLOT_SOURCES.get(question.source or "") if question.type == "slots" else None
        if source is None:
            continue
        request = SlotRequest(node, journey.slug, subject, answers, today)
        found[question.id] = [str(value) for value in await source(request)][:MAX_OFFERED]
    return found


async def slots_gone(
    node: NodeRuntime,
    journey: Journey,
    subject: str,
    answers: Mapping[str, Any],
    today: date,
    base: str | None = None,
) -> list[dict[str, str]]:
    """The errors of slots chosen that their source no longer offers, for check your answers
    (each linking to its page under base, the journey's pages: journey.path by default)."""
    slots = [
        (page, question)
        for page, question in journey.definition.questions()
        if question.type == "slots" and question.id in answers
    ]
    now = await offered(node, journey, [q for _, q in slots], subject, answers, today)
    errors = []
    for page, question in slots:
        gone = [value for value in answers[question.id] if value not in now.get(question.id, ())]
        if gone:
            shown = ", ".join(display_answer(question, gone))
            errors.append(
                {
                    "text": f"{shown} is no longer available: choose {question.subject()} again",
                    "href": f"{base or journey.path}/{page.id}?return=check",
                }
            )
    return errors


@dataclass
class Taken:
    """A posted page's answers and where each came from, its problems, and its files to keep."""

    answers: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)


def take_answers(
    page: Page,
    posted: Mapping[str, list[str]],
    *,
    saved: Mapping[str, Any],
    held: Mapping[str, HeldValue],
    offered: Mapping[str, list[str]],
    uploads: Mapping[str, Upload],
    today: date,
    cap: int,
) -> Taken:
    """The answers of page in posted (input name to its values): a held value on an explicit
    yes, else each question's parser's answer; a file question without a new file keeps the
    one saved."""
    taken = Taken()
    for question in page.questions:
        if question.id in held:
            choice = next(iter(posted.get(held_input(question), ())), "")
            if choice == "yes":
                taken.answers[question.id] = held[question.id].value
                taken.sources[question.id] = held[question.id].source
                continue
            if choice != "no":
                name = held_name(held[question.id].field)
                message = _("Select yes if you want to use the %(name)s we already hold") % {
                    "name": name
                }
                taken.problems[question.id] = [Problem(message, USE_HELD)]
                continue
        upload = uploads.get(question.id)
        no_file = upload is None or not upload.content
        if question.type == "file" and no_file and answered(saved.get(question.id)):
            continue  # the file uploaded before stays, unless another is chosen
        parsed = parse(
            capped(question, cap),
            posted,
            today=today,
            uploads=uploads,
            offered=offered.get(question.id, ()),
        )
        if isinstance(parsed, Answer):
            taken.answers[question.id] = parsed.value
            taken.sources[question.id] = ENTERED
            if question.type == "file" and upload is not None and parsed.value is not None:
                taken.files[question.id] = upload
        else:
            taken.problems[question.id] = list(parsed.problems)
    return taken
