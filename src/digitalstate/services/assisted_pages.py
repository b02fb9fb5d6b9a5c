"""Assisted digital: a member of staff fills in a service's journey with a person who phones or
visits, on their behalf (docs/staff.md#assisted-digital).

/staff/assisted lists the node's services with pages and the applications the member of
staff is filling in. Starting one makes a draft the staff account holds, under a subject of
its own (`assisted-<case>`, no person's pseudonym: the node does not know who the person is
beyond what they say), and its pages are the journey's own (services/journey_pages.py's
JourneyFlow) under /staff/assisted/<slug>/<case>. The answers are typed as the person gives
them: nothing is filled in from a register, which only the person's own consent allows (they
can do that themselves, signed in, or through a helper with a delegation). Sending it makes an
application of the channel `assisted`, with the staff account as the one who acted. Starting
and sending are entries in the node's log.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.services.applications import ASSISTED
from digitalstate.services.casework import ASSISTED_STARTED, ASSISTED_SUBMITTED, made_by
from digitalstate.services.display import display_answer
from digitalstate.services.drafts import DECLINED, Draft, drafts_held_by, find_draft, open_draft
from digitalstate.services.journey import CHECK_PAGE
from digitalstate.services.journey_pages import Applicant, JourneyFlow, JourneyPage, ReturnTo
from digitalstate.services.journeys import Journey
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.service import record_staff_action
from digitalstate.staff.sessions import ANY_STAFF, StaffSignedIn
from digitalstate.storage.retrying import run_step
from digitalstate.web.languages import request_language
from digitalstate.web.session import require_csrf

ASSISTED_PATH = "/staff/assisted"
ASSISTED_SUBJECT = "assisted-"  # + the case: the key of an assisted draft and application
CASE = re.compile(r"[0-9a-f]{32}")


class AssistedPages:
    """The route handlers of assisted digital."""

    def __init__(
        self, node: NodeRuntime, templates: Jinja2Templates, journeys: Sequence[Journey]
    ) -> None:
        self.node = node
        self.templates = templates
        self.flow = JourneyFlow(node, templates, journeys)
        self.journeys = {journey.slug: journey for journey in journeys}

    def applicant(self, journey: Journey, case: str, staff: StaffMember) -> Applicant:
        """The case's journey as staff fill it in: typed answers, sent as assisted and logged."""
        subject = ASSISTED_SUBJECT + case

        def submitted(session: Session, reference: str, now: datetime) -> None:
            self.log(session, staff, ASSISTED_SUBMITTED, journey, subject, reference, now)

        return Applicant(
            subject,
            base=f"{ASSISTED_PATH}/{journey.slug}/{case}",
            start=ASSISTED_PATH,
            acting_by=staff.id,
            channel=ASSISTED,
            by=staff.role,
            prefill=False,
            submitted=submitted,
        )

    def log(
        self,
        session: Session,
        staff: StaffMember,
        action: str,
        journey: Journey,
        subject: str,
        detail: str,
        now: datetime,
    ) -> None:
        """Log what staff did on the case subject."""
        record_staff_action(
            session,
            staff,
            action,
            holder=self.node.settings.node.id,
            now=now,
            subject=subject,
            detail=detail,
            purpose=journey.definition.purpose,
        )

    async def held(
        self, slug: str, case: str, staff: StaffMember
    ) -> tuple[Journey, Applicant, str | None] | None:
        """The journey and applicant of a case staff holds, and the reference of the
        application it made (None while it is a draft); None when it is not theirs."""
        journey = self.journeys.get(slug)
        if journey is None or not CASE.fullmatch(case):
            return None
        who = self.applicant(journey, case, staff)

        def step(session: Session) -> tuple[bool, str | None]:
            draft = find_draft(session, who.subject, slug)
            if draft is not None:
                return draft.held_by == staff.id, None
            made = made_by(session, who.subject, slug, staff.id)
            return made is not None, made

        theirs, made = await run_step(self.node.sessions, step)
        return (journey, who, made) if theirs else None

    # --- the list, and starting -------------------------------------------------------------

    async def index(self, request: Request, staff: StaffSignedIn) -> Response:
        """The services to start with a person, and the applications staff are filling in."""
        drafts = await run_step(self.node.sessions, lambda s: drafts_held_by(s, staff.id))
        lang = request_language(request)
        context = {
            "node": self.node.settings.node,
            "staff": staff,
            "journeys": sorted(self.journeys.values(), key=lambda j: j.definition.title.text("en")),
            "drafts": [
                self.in_progress(draft, lang) for draft in drafts if draft.slug in self.journeys
            ],
            # Each service's own texts in the page's language where it has them (else English).
            "lang": lang,
        }
        return self.templates.TemplateResponse(request, "staff/assisted.html", context)

    def in_progress(self, draft: Draft, lang: str) -> dict[str, Any]:
        """A draft staff are filling in, as the list shows it: the first answer tells it apart."""
        journey = self.journeys[draft.slug]
        first = next(
            (q for _, q in journey.definition.questions() if draft.answers.get(q.id)), None
        )
        case = draft.subject.removeprefix(ASSISTED_SUBJECT)
        return {
            "title": journey.definition.title.text(lang),
            "first": ", ".join(display_answer(first, draft.answers[first.id], lang))
            if first
            else "",
            "updated_at": draft.updated_at,
            "href": f"{ASSISTED_PATH}/{journey.slug}/{case}/{CHECK_PAGE}",
        }

    async def start(self, request: Request, slug: str, staff: StaffSignedIn) -> Response:
        """Start the service with a person: a new draft staff hold, at its first page."""
        journey = self.journeys.get(slug)
        if journey is None:
            return self.flow.not_found(request)
        case = secrets.token_hex(16)
        who = self.applicant(journey, case, staff)
        now = datetime.now(UTC)

        def step(session: Session) -> Draft:
            draft = open_draft(
                session, who.subject, slug, now, "en", held_by=staff.id, consent=DECLINED
            )
            self.log(session, staff, ASSISTED_STARTED, journey, who.subject, slug, now)
            self.flow.note(session, journey, who, "started", draft.id, now)
            return draft

        draft = await run_step(self.node.sessions, step)
        return RedirectResponse(self.flow.resume(journey, who, draft.answers), status_code=303)

    # --- the journey's pages, for a case staff hold -----------------------------------------

    async def for_case(
        self,
        request: Request,
        slug: str,
        case: str,
        staff: StaffMember,
        page: JourneyPage,
        *,
        sent: bool = False,
    ) -> Response:
        """page of a case staff hold (404 for any other); once the case is sent, its
        confirmation instead (unless sent: the page is for a case sent)."""
        found = await self.held(slug, case, staff)
        if found is None:
            return self.flow.not_found(request)
        journey, who, made = found
        if made is not None and not sent:
            return RedirectResponse(f"{who.base}/confirmation/{made}", status_code=303)
        return await page(request, await self.flow.shown(journey, who), who)

    async def question(
        self,
        request: Request,
        slug: str,
        case: str,
        page_id: str,
        staff: StaffSignedIn,
        back_to: ReturnTo = "",
    ) -> Response:
        """A question page of the case."""

        async def show(request: Request, journey: Journey, who: Applicant) -> Response:
            page = journey.definition.page(page_id)
            if page is None:
                return self.flow.not_found(request)
            return await self.flow.show_page(request, journey, page, who, back_to)

        return await self.for_case(request, slug, case, staff, show)

    async def answer(
        self,
        request: Request,
        slug: str,
        case: str,
        page_id: str,
        staff: StaffSignedIn,
        back_to: ReturnTo = "",
    ) -> Response:
        """A question page's answers, as the person gave them (the CSRF token is checked
        before anything is answered, for any case)."""
        found = await self.held(slug, case, staff)
        if found is not None and found[2] is not None:
            return RedirectResponse(f"{found[1].base}/confirmation/{found[2]}", status_code=303)
        journey = await self.flow.shown(found[0], found[1]) if found is not None else None
        page = journey.definition.page(page_id) if journey is not None else None
        if found is None or journey is None or page is None:
            return await self.flow.post_page(request, None, None, back_to)
        return await self.flow.post_page(request, (journey, page), found[1], back_to)

    async def check(self, request: Request, slug: str, case: str, staff: StaffSignedIn) -> Response:
        """Check the answers with the person."""
        return await self.for_case(request, slug, case, staff, self.flow.check_answers)

    async def submit(
        self, request: Request, slug: str, case: str, staff: StaffSignedIn
    ) -> Response:
        """Send the application, once (sent already, a double click: its confirmation)."""
        return await self.for_case(request, slug, case, staff, self.flow.send)

    async def stopped(
        self, request: Request, slug: str, case: str, staff: StaffSignedIn
    ) -> Response:
        """Why the person cannot use the service."""
        return await self.for_case(request, slug, case, staff, self.flow.not_eligible)

    async def left(self, request: Request, slug: str, case: str, staff: StaffSignedIn) -> Response:
        """The person has left the service (their answers kept, for now)."""
        return await self.for_case(request, slug, case, staff, self.flow.leave)

    async def forgotten(
        self, request: Request, slug: str, case: str, staff: StaffSignedIn
    ) -> Response:
        """The person left the service: delete the answers typed so far."""
        return await self.for_case(request, slug, case, staff, self.flow.forget)

    async def confirmed(
        self, request: Request, slug: str, case: str, reference: str, staff: StaffSignedIn
    ) -> Response:
        """Application sent: the reference to give the person."""
        page = partial(self.flow.confirmation, reference=reference)
        return await self.for_case(request, slug, case, staff, page, sent=True)


def make_assisted_router(
    node: NodeRuntime, templates: Jinja2Templates, journeys: Sequence[Journey]
) -> APIRouter:
    """/staff/assisted: a service's journey filled in by staff with a person."""
    pages = AssistedPages(node, templates, journeys)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    case = ASSISTED_PATH + "/{slug}/{case}"
    for path, handler in (
        (ASSISTED_PATH, pages.index),
        (case + "/" + CHECK_PAGE, pages.check),
        (case + "/not-eligible", pages.stopped),
        (case + "/leave", pages.left),
        (case + "/confirmation/{reference}", pages.confirmed),
        (case + "/{page_id}", pages.question),
    ):
        router.add_api_route(path, handler, methods=["GET"])
    # A POST without a staff session goes to sign in before its CSRF token is checked.
    checked = [Depends(ANY_STAFF), Depends(require_csrf)]
    router.add_api_route(
        ASSISTED_PATH + "/{slug}/start", pages.start, methods=["POST"], dependencies=checked
    )
    router.add_api_route(case + "/submit", pages.submit, methods=["POST"], dependencies=checked)
    router.add_api_route(case + "/leave", pages.forgotten, methods=["POST"], dependencies=checked)
    # The CSRF token of a question page is checked once its form is read (it may hold files).
    router.add_api_route(
        case + "/{page_id}", pages.answer, methods=["POST"], dependencies=[Depends(ANY_STAFF)]
    )
    return router
