"""The pages of a declared service: start, questions, check your answers, submit, confirmation.

Every service a node's [services] files declare with pages has them under /services/<slug>
(docs/services.md). Pages hold no state: each one reads the person's draft (keyed by this
node's pseudonym for them, services/drafts.py), computes the journey from the definition and
the answers (services/journey.py), and saves a page's answers before going on. So the back
button shows what was saved, and a person who signs out, or whose session ends, carries on
from the first page not yet answered.

A question that a register's value can answer is offered the value the service holds under
the person's consent ("use the address we already hold"); a person who has not been asked is
sent to the charter's consent screen first, from the start of the journey, and one who says no
types their answers. Only what the person confirmed is kept, with where it came from.

The question pages, check your answers, submitting, the confirmation and not-eligible are one
implementation (`JourneyFlow`) for two zones: the person's own pages here, and the staff's
assisted digital pages (services/assisted_pages.py), where a member of staff fills the journey
in with a person. An `Applicant` says, for a request, whose draft it is, who acts, and where
the journey's pages are.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.relying_party import Subject, require_subject
from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.domain import EventKind
from digitalstate.registers.domain import field_label
from digitalstate.routing import Router
from digitalstate.services.applications import (
    ASSISTED,
    DraftChangedError,
    application_with_notes,
    by_token,
    submit,
)
from digitalstate.services.definitions import Page
from digitalstate.services.drafts import (
    DECLINED,
    ENTERED,
    Draft,
    decide_consent,
    delete_draft,
    find_draft,
    open_draft,
    save_answers,
)
from digitalstate.services.fields import Problem, form_values
from digitalstate.services.filetypes import Upload
from digitalstate.services.handlers import (
    ELIGIBILITY,
    SUBMIT_ACTIONS,
    WAKES,
    Stop,
    SubmissionRefusedError,
)
from digitalstate.services.journey import (
    CHECK_PAGE,
    check_answers_rows,
    eligibility,
    feedback_link,
    first_unanswered,
    next_page,
    previous_page,
    submitted_answers,
    visible_pages,
)
from digitalstate.services.journeys import (
    SERVICES_PATH,
    Journey,
    capped,
    form_bound,
    held_values,
    offered,
    register_name,
    slots_gone,
    take_answers,
    text_language,
)
from digitalstate.services.measures import completed_journey, record_event, record_leaving
from digitalstate.services.presenter import (
    HeldValue,
    error_list,
    held_input,
    held_view,
    question_view,
)
from digitalstate.services.returns import RETURN_STATUS, remember_request, take_return
from digitalstate.services.service import ServiceError, copy_for, refresh_copy, request_consent
from digitalstate.services.variant_state import winners
from digitalstate.services.variants import shown_definition
from digitalstate.storage.retrying import run_step
from digitalstate.web.error_pages import not_found_page
from digitalstate.web.hardening import FORM_MAX_FIELDS, form_text, read_form
from digitalstate.web.session import (
    CSRF_FIELD,
    CSRF_SESSION_KEY,
    CsrfRejectedError,
    csrf_matches,
    require_csrf,
)

log = logging.getLogger("digitalstate.services")

SignedIn = Annotated[Subject, Depends(require_subject)]
# ?return=check: the page was reached from a change link of check your answers.
ReturnTo = Annotated[str, Query(alias="return", max_length=10)]
PENDING_KEY = "journey_consent_request:{slug}"
# Run in the transaction that makes the application, with its reference (a staff log entry).
Submitted = Callable[[Session, str, datetime], None]
# One of JourneyFlow's pages, for a journey and an applicant.
JourneyPage = Callable[[Request, "Journey", "Applicant"], Awaitable[Response]]


@dataclass(frozen=True)
class Applicant:
    """Whom a journey's pages are filled in for, who acts, and where its pages are."""

    subject: str  # the draft's and application's key: this node's pseudonym for the person
    base: str  # the journey's pages: /services/<slug> (or an assisted case's, under /staff)
    start: str  # where the first page's back link goes
    acting_by: str | None = None  # a helper's pseudonym here, or the staff account (assisted)
    channel: str | None = None  # None: digital, or helper with acting_by (applications.submit)
    by: str | None = None  # the first event's by (None: person, or helper)
    prefill: bool = True  # offer the register's values held under the person's consent
    submitted: Submitted | None = None

    @property
    def assisted(self) -> bool:
        """True when a member of staff fills the journey in with the person."""
        return self.channel == ASSISTED


def person(journey: Journey, subject: Subject) -> Applicant:
    """The signed-in person (or their helper) on the journey's own pages."""
    return Applicant(subject.sub, journey.path, journey.path, acting_by=subject.acting_for)


class JourneyFlow:
    """A journey's question pages, check your answers, submission, confirmation and
    not-eligible, for whichever Applicant a zone's routes give."""

    def __init__(
        self,
        node: NodeRuntime,
        templates: Jinja2Templates,
        journeys: Sequence[Journey],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.node = node
        self.templates = templates
        self.journeys = {journey.slug: journey for journey in journeys}
        self.clock = clock
        self.upload_cap = node.settings.services.max_upload_bytes

    # --- shared -----------------------------------------------------------------------------

    def today(self) -> date:
        """Today, in UTC."""
        return self.clock().date()

    def render(
        self,
        request: Request,
        template: str,
        journey: Journey | None,
        status: int = 200,
        who: Applicant | None = None,
        **context: Any,
    ) -> Response:
        """A page of services/journey/ with what every one shows."""
        base = {
            "node": self.node.settings.node,
            "journey": journey,
            "lang": text_language(request, journey.definition) if journey else "en",
            "path": who.base if who is not None else (journey.path if journey else ""),
            "assisted": who is not None and who.assisted,
        }
        return self.templates.TemplateResponse(
            request, f"services/journey/{template}.html", base | context, status_code=status
        )

    def not_found(self, request: Request) -> Response:
        """The 404 page: nothing here for this person (unknown, or someone else's)."""
        return not_found_page(self.templates, request)

    def resume(self, journey: Journey, who: Applicant, answers: Mapping[str, Any]) -> str:
        """Where a person with these answers carries on: the page that stops them, the first
        page not yet answered, or check your answers."""
        today = self.today()
        if self.eligibility_stop(journey, answers) is not None:
            return f"{who.base}/not-eligible"
        page = first_unanswered(journey.definition, answers, today)
        return f"{who.base}/{page.id if page else CHECK_PAGE}"

    def eligibility_stop(
        self, journey: Journey, answers: Mapping[str, Any], lang: str = "en"
    ) -> Stop | None:
        """What stops a person with these answers: the first declared eligibility rule that
        holds (its reason in lang), else the rule the service's action computes
        (handlers.ELIGIBILITY); None when nothing does."""
        today = self.today()
        definition = journey.definition
        declared = eligibility(definition, answers, today)
        if declared is not None:
            rule = definition.eligibility[declared.rule]
            tested = tuple(leaf.question or "" for leaf in rule.condition.leaves())
            return Stop(declared.reason.text(lang), tested)
        check = ELIGIBILITY.get(definition.submit.action) if definition.submit else None
        if check is None:
            return None
        return check(definition, submitted_answers(definition, answers, today), today)

    async def draft(self, journey: Journey, who: Applicant) -> Draft | None:
        """The applicant's draft of journey, or None."""
        return await run_step(
            self.node.sessions, lambda s: find_draft(s, who.subject, journey.slug)
        )

    async def open(self, journey: Journey, who: Applicant) -> Draft:
        """The applicant's draft of journey, made if there is none (the journey started)."""
        now = self.clock()

        def step(session: Session) -> Draft:
            found = find_draft(session, who.subject, journey.slug)
            if found is not None:
                return found
            draft = open_draft(session, who.subject, journey.slug, now, "en")
            self.note(session, journey, who, "started", draft.id, now)
            return draft

        try:
            return await run_step(self.node.sessions, step)
        except IntegrityError:  # made at the same moment by another request: use that one
            return await run_step(self.node.sessions, step)

    def note(
        self,
        session: Session,
        journey: Journey,
        who: Applicant,
        kind: EventKind,
        draft_id: str | None,
        now: datetime,
        page: str | None = None,
    ) -> None:
        """Record an event of the applicant's journey in session's transaction, with the
        variant of the experiment they see (none for assisted digital: ADR 0027)."""
        record_event(
            session,
            journey.slug,
            kind,
            now,
            draft_id,
            assisted=who.assisted,
            page=page,
            variant=journey.variant,
        )

    async def noted(
        self,
        journey: Journey,
        who: Applicant,
        kind: EventKind,
        draft: Draft | None,
        page: str | None = None,
    ) -> None:
        """Record an event of the applicant's journey in a transaction of its own."""
        now = self.clock()
        draft_id = draft.id if draft is not None else None
        await run_step(
            self.node.sessions,
            lambda s: self.note(s, journey, who, kind, draft_id, now, page),
        )

    async def held(self, journey: Journey, who: Applicant) -> dict[str, HeldValue]:
        """The register's values the applicant may take as answers (none when typed)."""
        if not who.prefill:
            return {}
        return await held_values(self.node, journey, who.subject, self.today())

    async def shown(self, journey: Journey, who: Applicant) -> Journey:
        """journey as who sees it: the winners of its stopped experiments, and their variant of
        the running one, recorded on the journey's events (an assisted digital journey sees the
        running experiment's first variant and is in no experiment: ADR 0027)."""
        base = self.journeys.get(journey.slug, journey)
        if not base.definition.experiments:
            return base
        won = await run_step(self.node.sessions, lambda s: winners(s, base.slug))
        key = None if who.assisted else who.subject
        definition, variant = shown_definition(base.definition, won, key)
        return replace(base, definition=definition, variant=variant)

    # --- question pages ---------------------------------------------------------------------

    async def lookup(
        self, slug: str, page_id: str, who: Callable[[Journey], Applicant]
    ) -> tuple[Journey, Page, Applicant] | None:
        """The journey and page at <slug>/<page_id> as the applicant who(journey) sees them."""
        journey = self.journeys.get(slug)
        if journey is None or journey.definition.page(page_id) is None:
            return None
        applicant = who(journey)
        journey = await self.shown(journey, applicant)
        page = journey.definition.page(page_id)
        return None if page is None else (journey, page, applicant)

    async def in_turn(
        self, journey: Journey, page: Page, who: Applicant
    ) -> tuple[Draft | None, Response | None]:
        """The applicant's draft, and where to go instead of page (None: page may be shown)."""
        draft = await self.draft(journey, who)
        answers = draft.answers if draft is not None else {}
        elsewhere = self.out_of_turn(journey, who, page, answers)
        return draft, None if elsewhere is None else RedirectResponse(elsewhere, 303)

    def out_of_turn(
        self, journey: Journey, who: Applicant, page: Page, answers: Mapping[str, Any]
    ) -> str | None:
        """Where to go instead of page: it is not shown for these answers, or comes after the
        first page not yet answered. None: page may be shown."""
        today = self.today()
        shown = [p.id for p in visible_pages(journey.definition, answers, today)]
        if page.id not in shown:
            return self.resume(journey, who, answers)
        first = first_unanswered(journey.definition, answers, today)
        if first is not None and shown.index(page.id) > shown.index(first.id):
            return f"{who.base}/{first.id}"
        return None

    async def show_page(
        self, request: Request, journey: Journey, page: Page, who: Applicant, back_to: str
    ) -> Response:
        """A question page, showing the answers saved."""
        draft, elsewhere = await self.in_turn(journey, page, who)
        if elsewhere is not None:
            return elsewhere
        await self.noted(journey, who, "page", draft, page.id)
        return await self.show_saved(request, journey, page, who, draft, {}, back_to)

    async def show_saved(
        self,
        request: Request,
        journey: Journey,
        page: Page,
        who: Applicant,
        draft: Draft | None,
        problems: Mapping[str, Sequence[Problem]],
        back_to: str,
    ) -> Response:
        """Render a question page with the answers saved in draft, and problems."""
        answers = draft.answers if draft is not None else {}
        held = await self.held(journey, who)
        values: dict[str, Any] = {}
        choices: dict[str, str] = {}
        sources: Mapping[str, Any] = draft.sources if draft is not None else {}
        for question in page.questions:
            from_register = sources.get(question.id, ENTERED) != ENTERED
            if question.id in held and question.id in answers:
                choices[question.id] = "yes" if from_register else "no"
            if not from_register:
                values.update(form_values(question, answers.get(question.id)))
        return await self.show_question(
            request, journey, page, who, answers, held, values, choices, problems, back_to
        )

    async def show_question(
        self,
        request: Request,
        journey: Journey,
        page: Page,
        who: Applicant,
        answers: Mapping[str, Any],
        held: Mapping[str, HeldValue],
        values: Mapping[str, Any],
        choices: Mapping[str, str],
        problems: Mapping[str, Sequence[Problem]],
        back_to: str,
    ) -> Response:
        """Render a question page with values and problems."""
        lang = text_language(request, journey.definition)
        single = len(page.questions) == 1
        now_offered = await offered(
            self.node, journey, page.questions, who.subject, answers, self.today()
        )
        fields = []
        for question in page.questions:
            own = problems.get(question.id, ())
            view = question_view(
                capped(question, self.upload_cap),
                values=values,
                problems=own,
                heading=single and question.id not in held,
                lang=lang,
                offered=now_offered.get(question.id, ()),
                stored=answers.get(question.id) if question.type == "file" else None,
            )
            if question.id in held:
                view["held"] = held_view(
                    question,
                    held[question.id],
                    choices.get(question.id),
                    own,
                    heading=single,
                    lang=lang,
                )
            fields.append(view)
        before = previous_page(journey.definition, answers, page.id, self.today())
        back = f"{who.base}/{before.id}" if before is not None else who.start
        if back_to == "check":
            back = f"{who.base}/{CHECK_PAGE}"
        query = "?return=check" if back_to == "check" else ""
        return self.render(
            request,
            "question",
            journey,
            status=400 if problems else 200,
            who=who,
            page=page,
            heading=not single,
            fields=fields,
            errors=error_list(page.questions, problems),
            back=back,
            action=f"{who.base}/{page.id}{query}",
            multipart=bool(journey.file_questions(page)),
            leave=f"{who.base}/leave",
        )

    async def post_page(
        self,
        request: Request,
        found: tuple[Journey, Page] | None,
        who: Applicant | None,
        back_to: str,
    ) -> Response:
        """Check a page's answers: save them and go on, or show the page with its errors
        (nothing for who None: no such journey or draft here)."""
        files = len(found[0].file_questions(found[1])) if found is not None else 0
        bound = form_bound(found[1]) if found is not None else FORM_MAX_FIELDS
        form = await read_form(request, max_files=files, max_fields=bound)
        try:
            if not csrf_matches(request.session.get(CSRF_SESSION_KEY), form.get(CSRF_FIELD)):
                raise CsrfRejectedError
            if found is None or who is None:
                return self.not_found(request)
            return await self.take_page(request, *found, who, form, back_to)
        finally:
            await form.close()  # the uploads' temporary files

    async def take_page(
        self,
        request: Request,
        journey: Journey,
        page: Page,
        who: Applicant,
        form: FormData,
        back_to: str,
    ) -> Response:
        """The answers of page in form: saved, then the next page; or the page with errors."""
        slug = journey.slug
        draft, elsewhere = await self.in_turn(journey, page, who)
        if elsewhere is not None:
            return elsewhere
        answers = draft.answers if draft is not None else {}
        today = self.today()
        held = await self.held(journey, who)
        now_offered = await offered(self.node, journey, page.questions, who.subject, answers, today)
        uploads = await self.uploads(journey, page, form)
        # Every text value of each input, in order (checkboxes send one input many times).
        posted = {
            name: [value for value in form.getlist(name) if isinstance(value, str)] for name in form
        }
        taken = take_answers(
            page,
            posted,
            saved=answers,
            held=held,
            offered=now_offered,
            uploads=uploads,
            today=today,
            cap=self.upload_cap,
        )
        if taken.problems:
            await self.noted(journey, who, "answer_error", draft, page.id)
            choices = {q.id: form_text(form, held_input(q)) for q in page.questions if q.id in held}
            return await self.show_question(
                request,
                journey,
                page,
                who,
                answers,
                held,
                posted,
                choices,
                taken.problems,
                back_to,
            )
        now = self.clock()
        merged = {**answers, **taken.answers}
        stopped = self.eligibility_stop(journey, merged) is not None

        def save(session: Session) -> None:
            saved = save_answers(
                session, who.subject, slug, taken.answers, taken.sources, taken.files, now
            )
            if draft is None:  # made by this page's answers
                self.note(session, journey, who, "started", saved.id, now)
            if stopped:
                self.note(session, journey, who, "refused", saved.id, now, page.id)

        await run_step(self.node.sessions, save)
        if stopped:
            return RedirectResponse(f"{who.base}/not-eligible", status_code=303)
        if back_to == "check":
            return RedirectResponse(self.resume(journey, who, merged), status_code=303)
        following = next_page(journey.definition, merged, page.id, today)
        target = following.id if following is not None else CHECK_PAGE
        return RedirectResponse(f"{who.base}/{target}", status_code=303)

    async def uploads(self, journey: Journey, page: Page, form: FormData) -> dict[str, Upload]:
        """The files posted for the page's file questions, each read to one byte past its
        limit (so that a larger one is told apart without reading it all)."""
        uploads: dict[str, Upload] = {}
        for question in journey.file_questions(page):
            posted = form.get(question.id)
            if isinstance(posted, UploadFile):
                limit = capped(question, self.upload_cap).upload_limit
                content = await posted.read(limit + 1)
                uploads[question.id] = Upload(posted.filename or "", content)
        return uploads

    # --- check your answers, submit, confirmation -------------------------------------------

    async def check_answers(self, request: Request, journey: Journey, who: Applicant) -> Response:
        """Check your answers, with a change link for each and the submit button."""
        draft = await self.draft(journey, who)
        if draft is None:
            return RedirectResponse(who.start if who.assisted else f"{who.base}/begin", 303)
        where = self.resume(journey, who, draft.answers)
        if not where.endswith("/" + CHECK_PAGE):
            return RedirectResponse(where, status_code=303)
        return self.show_answers(request, journey, who, draft)

    def show_answers(
        self,
        request: Request,
        journey: Journey,
        who: Applicant,
        draft: Draft,
        errors: Sequence[dict[str, str]] = (),
    ) -> Response:
        """Render check your answers for draft, with errors found at submission."""
        lang = text_language(request, journey.definition)
        rows = check_answers_rows(journey.definition, draft.answers, self.today(), lang, who.base)
        registers = {
            question: register_name(self.node, str(source.get("register")))
            for question, source in draft.sources.items()
            if isinstance(source, dict)
        }
        return self.render(
            request,
            "check_answers",
            journey,
            status=400 if errors else 200,
            who=who,
            rows=rows,
            registers=registers,
            token=draft.submission_token,
            errors=list(errors),
        )

    async def send(self, request: Request, journey: Journey, who: Applicant) -> Response:
        """Submit: the draft becomes an application, once, whatever is sent twice."""
        token = form_text(await read_form(request), "submission_token")[:64]
        confirmation = f"{who.base}/confirmation/"

        async def made_with_token() -> Response | None:
            made = await run_step(self.node.sessions, lambda s: by_token(s, who.subject, token))
            return None if made is None else RedirectResponse(confirmation + made, status_code=303)

        if (made := await made_with_token()) is not None:
            return made
        draft = await self.draft(journey, who)
        if draft is None or not token or draft.submission_token != token:
            # Another submit with this token (at another worker, say) may have turned the
            # draft into its application since the look-up above: show what it made.
            made = await made_with_token()
            return made or RedirectResponse(f"{who.base}/{CHECK_PAGE}", status_code=303)
        where = self.resume(journey, who, draft.answers)
        if not where.endswith("/" + CHECK_PAGE):
            return RedirectResponse(where, status_code=303)
        answers = submitted_answers(journey.definition, draft.answers, self.today())
        gone = await slots_gone(
            self.node, journey, who.subject, answers, self.today(), base=who.base
        )
        if gone:
            return self.show_answers(request, journey, who, draft, gone)
        action_name = journey.definition.submit.action if journey.definition.submit else ""
        action = SUBMIT_ACTIONS.get(action_name)
        if action is None:  # the node refuses to start without it; a registry changed since
            raise ServiceError(f"no handler for {journey.slug}'s submission action")
        now = self.clock()

        def step(session: Session) -> str:
            reference = submit(
                session,
                definition=journey.definition,
                subject=who.subject,
                token=token,
                answers=answers,
                sources=draft.sources,
                acting_by=who.acting_by,
                action=action,
                now=now,
                channel=who.channel,
                by=who.by,
            )
            if who.submitted is not None:
                who.submitted(session, reference, now)
            self.note(session, journey, who, "completed", draft.id, now)
            return reference

        try:
            reference = await run_step(self.node.sessions, step)
        except SubmissionRefusedError as refused:
            # The action cannot take an answer: the page that asks it, with the error by it.
            found = journey.definition.question_page(refused.question)
            if found is None:
                error = {"text": refused.message, "href": f"{who.base}/{CHECK_PAGE}"}
                return self.show_answers(request, journey, who, draft, [error])
            problems = {refused.question: [Problem(refused.message)]}
            await self.noted(journey, who, "answer_error", draft, found.id)
            return await self.show_saved(request, journey, found, who, draft, problems, "check")
        except (IntegrityError, DraftChangedError):
            # Another submit with this token got there first: show what it made.
            made = await made_with_token()
            return made or RedirectResponse(f"{who.base}/{CHECK_PAGE}", status_code=303)
        for event in WAKES.get(action_name) or ():
            self.node.wake(event)  # committed: what works on it may start now
        return RedirectResponse(confirmation + reference, status_code=303)

    async def confirmation(
        self, request: Request, journey: Journey, who: Applicant, reference: str
    ) -> Response:
        """Application complete: the reference, and what happens next."""
        document = self.node.keeper.document
        read = await run_step(
            self.node.sessions,
            lambda s: application_with_notes(
                s,
                who.subject,
                reference[:20],
                lambda slug: journey.definition if slug == journey.slug else None,
                document,
            ),
            read_only=True,
        )
        if read is None or read[0].slug != journey.slug:
            return self.not_found(request)
        found, notes = read
        journey_id = await run_step(
            self.node.sessions,
            lambda s: completed_journey(s, journey.slug, found.submitted_at),
        )
        return self.render(
            request,
            "confirmation",
            journey,
            who=who,
            application=found,
            notes=notes,
            feedback=feedback_link(journey.slug, "done", journey_id or ""),
        )

    async def not_eligible(self, request: Request, journey: Journey, who: Applicant) -> Response:
        """The person cannot go on: why, and what to do instead."""
        draft = await self.draft(journey, who)
        answers = draft.answers if draft is not None else {}
        lang = text_language(request, journey.definition)
        stopped = self.eligibility_stop(journey, answers, lang)
        if stopped is None:
            return RedirectResponse(self.resume(journey, who, answers), status_code=303)
        page = next(p for p, q in journey.definition.questions() if q.id in stopped.questions)
        return self.render(
            request,
            "not_eligible",
            journey,
            who=who,
            reason=stopped.reason,
            change=f"{who.base}/{page.id}?return=check",
            feedback=feedback_link(journey.slug, "refused", draft.id if draft else ""),
        )

    async def leave(self, request: Request, journey: Journey, who: Applicant) -> Response:
        """The person has left the service: their answers are kept until they delete them
        here (or come back to carry on)."""
        draft = await self.draft(journey, who)
        if draft is not None:
            now = self.clock()
            await run_step(
                self.node.sessions,
                lambda s: record_leaving(
                    s, journey.slug, now, draft.id, assisted=who.assisted, variant=journey.variant
                ),
            )
        journey_id = draft.id if draft is not None else ""
        return self.render(
            request,
            "left",
            journey,
            who=who,
            kept=draft is not None,
            feedback=feedback_link(journey.slug, "left", journey_id),
        )

    async def forget(self, request: Request, journey: Journey, who: Applicant) -> Response:
        """Leave the service and delete the answers given so far."""
        draft = await self.draft(journey, who)
        if draft is not None:
            now = self.clock()

            def step(session: Session) -> None:
                record_leaving(
                    session,
                    journey.slug,
                    now,
                    draft.id,
                    assisted=who.assisted,
                    variant=journey.variant,
                )
                delete_draft(session, who.subject, journey.slug)

            await run_step(self.node.sessions, step)
        return self.render(request, "left", journey, who=who, kept=False, deleted=True)


class JourneyPages(JourneyFlow):
    """The route handlers of every declared service's pages for people, under /services."""

    async def start(self, request: Request, slug: str) -> Response:
        """The start page: what the service is, how long it takes, and Start now."""
        journey = self.journeys.get(slug)
        if journey is None:
            return self.not_found(request)
        fields = [field_label(name) for name in journey.entry.fields] if journey.prefills else []
        return self.render(request, "start", journey, fields=fields)

    async def begin(self, request: Request, slug: str, subject: SignedIn) -> Response:
        """Where Start now goes (signed in): ask for consent once, then carry on."""
        journey = self.journeys.get(slug)
        if journey is None:
            return self.not_found(request)
        who = person(journey, subject)
        journey = await self.shown(journey, who)
        draft = await self.open(journey, who)
        if journey.prefills and draft.consent is None:
            held = await run_step(
                self.node.sessions, lambda s: copy_for(s, subject.sub, journey.entry)
            )
            if held is not None:
                # Read again at the start of each journey: a withdrawn consent is refused
                # here, and a value that changed is the one offered.
                await refresh_copy(self.node, held.consent_id)
                held = await run_step(
                    self.node.sessions, lambda s: copy_for(s, subject.sub, journey.entry)
                )
            if held is None:
                return self.ask(request, journey)
        return RedirectResponse(self.resume(journey, who, draft.answers), status_code=303)

    def ask(self, request: Request, journey: Journey, error: str = "") -> Response:
        """Whether we may fill in answers from the register, or the person types them."""
        document = self.node.keeper.document
        purpose = document.purpose(journey.entry.purpose) if document is not None else None
        return self.render(
            request,
            "consent",
            journey,
            status=503 if error else 200,
            error=error,
            why=purpose.wording if purpose is not None else "",
            fields=[field_label(name) for name in journey.entry.fields],
        )

    async def consent(self, request: Request, slug: str, subject: SignedIn) -> Response:
        """Share (go to the consent screen) or type the answers."""
        journey = self.journeys.get(slug)
        if journey is None:
            return self.not_found(request)
        form = await read_form(request)
        if form_text(form, "choice") != "share":
            return await self.decide(journey, person(journey, subject), DECLINED)
        try:
            asked = await request_consent(
                self.node, subject.sub, journey.entry, f"{journey.path}/consent-return"
            )
        except ServiceError as exc:
            log.warning("consent for %s could not be asked: %s", slug, exc)
            return self.ask(request, journey, error=str(exc))
        key = PENDING_KEY.format(slug=slug)
        remember_request(request.session, key, asked.request_id, subject.sub)
        return RedirectResponse(asked.url, status_code=303)

    async def decide(self, journey: Journey, who: Applicant, consent: str | None) -> Response:
        """Keep what the person chose about sharing in their draft, and carry on."""
        journey = await self.shown(journey, who)
        await self.open(journey, who)
        now = self.clock()
        await run_step(
            self.node.sessions,
            lambda s: decide_consent(s, who.subject, journey.slug, consent, now),
        )
        draft = await self.draft(journey, who)
        return RedirectResponse(self.resume(journey, who, draft.answers if draft else {}), 303)

    async def consent_return(
        self,
        request: Request,
        slug: str,
        subject: SignedIn,
        request_id: str = "",
        consent_id: str = "",
        error: str = "",
    ) -> Response:
        """Back from the consent screen: keep the consent and carry on, or type the answers."""
        journey = self.journeys.get(slug)
        if journey is None:
            return self.not_found(request)
        outcome = await take_return(
            self.node,
            request.session,
            PENDING_KEY.format(slug=slug),
            subject=subject.sub,
            entry=journey.entry,
            request_id=request_id,
            consent_id=consent_id,
            error=error,
            now=self.clock(),
        )
        if outcome in ("agreed", "declined"):
            consent = DECLINED if outcome == "declined" else None
            return await self.decide(journey, person(journey, subject), consent)
        reason = "failed" if outcome == "malformed" else outcome
        return self.render(
            request, "consent_problem", journey, status=RETURN_STATUS[outcome], reason=reason
        )

    # --- the person's routes of the shared pages -------------------------------------------

    async def question(
        self,
        request: Request,
        slug: str,
        page_id: str,
        subject: SignedIn,
        back_to: ReturnTo = "",
    ) -> Response:
        """A question page, showing the answers saved."""
        found = await self.lookup(slug, page_id, partial(person, subject=subject))
        if found is None:
            return self.not_found(request)
        journey, page, who = found
        return await self.show_page(request, journey, page, who, back_to)

    async def answer(
        self,
        request: Request,
        slug: str,
        page_id: str,
        subject: SignedIn,
        back_to: ReturnTo = "",
    ) -> Response:
        """Check a page's answers: save them and go on, or show the page with its errors."""
        found = await self.lookup(slug, page_id, partial(person, subject=subject))
        pair = (found[0], found[1]) if found is not None else None
        return await self.post_page(request, pair, found[2] if found else None, back_to)

    async def as_person(
        self, request: Request, slug: str, subject: Subject, page: JourneyPage
    ) -> Response:
        """page of the journey slug, for the signed-in person (404 for no such journey)."""
        journey = self.journeys.get(slug)
        if journey is None:
            return self.not_found(request)
        who = person(journey, subject)
        return await page(request, await self.shown(journey, who), who)

    async def check(self, request: Request, slug: str, subject: SignedIn) -> Response:
        """Check your answers."""
        return await self.as_person(request, slug, subject, self.check_answers)

    async def submit(self, request: Request, slug: str, subject: SignedIn) -> Response:
        """Send the application."""
        return await self.as_person(request, slug, subject, self.send)

    async def confirmed(
        self, request: Request, slug: str, reference: str, subject: SignedIn
    ) -> Response:
        """Application complete."""
        page = partial(self.confirmation, reference=reference)
        return await self.as_person(request, slug, subject, page)

    async def stopped(self, request: Request, slug: str, subject: SignedIn) -> Response:
        """Why the person cannot use the service."""
        return await self.as_person(request, slug, subject, self.not_eligible)

    async def left(self, request: Request, slug: str, subject: SignedIn) -> Response:
        """The person has left the service."""
        return await self.as_person(request, slug, subject, self.leave)

    async def forgotten(self, request: Request, slug: str, subject: SignedIn) -> Response:
        """Leave the service and delete the answers."""
        return await self.as_person(request, slug, subject, self.forget)


def make_journey_router(
    node: NodeRuntime, templates: Jinja2Templates, journeys: Sequence[Journey]
) -> APIRouter:
    """The pages of every service with pages, under /services/<slug>."""
    pages = JourneyPages(node, templates, journeys)
    router = Router(include_in_schema=False)
    base = SERVICES_PATH + "/{slug}"
    for path, handler in (
        (base, pages.start),
        (base + "/begin", pages.begin),
        (base + "/consent-return", pages.consent_return),
        (base + "/" + CHECK_PAGE, pages.check),
        (base + "/not-eligible", pages.stopped),
        (base + "/leave", pages.left),
        (base + "/confirmation/{reference}", pages.confirmed),
        (base + "/{page_id}", pages.question),
    ):
        router.add_api_route(path, handler, methods=["GET"], response_class=HTMLResponse)
    for path, handler in (
        (base + "/consent", pages.consent),
        (base + "/submit", pages.submit),
        (base + "/leave", pages.forgotten),
    ):
        router.add_api_route(path, handler, methods=["POST"], dependencies=[Depends(require_csrf)])
    # The CSRF token of a question page is checked once its form is read (it may hold files).
    router.add_api_route(base + "/{page_id}", pages.answer, methods=["POST"])
    return router
