"""The staff's pages of a service node's applications: the queue and the case page.

Under the staff session zone (/staff, docs/adr/0018), for the node's own staff only
(`require_staff`). The queue lists the applications of the node's declared services, newest
first, filtered by a GET form and counted by status and service. A case page shows one
application: its answers and where each came from, its files (downloaded, never shown
inline), history and notes, and the actions: mark in review, approve (choosing one of the
person's times when the service asks for slots), refuse with a reason, add a note. A decision
is final, runs the service's decision hook in its transaction (services/applications.decide)
and queues an email to the person when their answers hold an address and the node has
[email]. Every staff action is an entry in the node's log, about the person whose case it is,
in the action's own transaction (docs/staff.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.mail.worker import EMAIL_EVENT
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.services.application_pages import reference_not_found
from digitalstate.services.applications import (
    CHANNELS,
    IN_REVIEW,
    STATUSES,
    SUBMITTED,
    decide,
    mark_in_review,
)
from digitalstate.services.casework import (
    DECIDED,
    DOWNLOADED,
    MARKED_IN_REVIEW,
    MAX_REASON,
    NOTED,
    VIEWED,
    Case,
    QueuePage,
    add_note,
    application_row,
    file_of,
    find_case,
    queue,
    tell_person,
)
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.display import display_slot
from digitalstate.services.domain import decision_barred
from digitalstate.services.filetypes import size_text
from digitalstate.services.handlers import APPROVED, REFUSED, Decision, DecisionRefusedError
from digitalstate.services.journeys import register_name, text_language
from digitalstate.services.models import MAX_NOTE
from digitalstate.services.presenter import (
    DATE_PARTS,
    case_rows,
    channel_label,
    staff_by,
    status_tag,
)
from digitalstate.services.queue import DATES, QueueFilters, parse_filters
from digitalstate.services.references import ReferenceNumberError, parse_reference
from digitalstate.staff.domain import StaffMember
from digitalstate.staff.service import record_staff_action
from digitalstate.staff.sessions import ANY_STAFF, StaffRoleError, StaffSignedIn, render_staff_page
from digitalstate.storage.retrying import run_step
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.languages import request_language
from digitalstate.web.pagination import pagination
from digitalstate.web.session import require_csrf

QUEUE_PATH = "/staff/applications"
QUERY_NAMES = (
    "service",
    "status",
    "channel",
    *(f"{when}-{part}" for when in ("from", "to") for part in ("day", "month", "year")),
    "reference",
    "page",
)
DONE = {
    "in-review": N_("You marked the application as in review"),
    "approved": N_("You approved the application"),
    "refused": N_("You refused the application"),
    "note": N_("Your note was added"),
}
FILE_ID = re.compile(r"[0-9a-f]{32}")
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")
Done = Annotated[str, Query(max_length=20)]


def attachment(name: str) -> str:
    """A Content-Disposition that downloads a file called name, never shows it."""
    plain = UNSAFE_NAME.sub("_", name)[:100] or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name[:100], safe='')}"


def _field_of(source: Any) -> bool:
    """True for the source of an answer a register gave (it names the field read)."""
    return isinstance(source, dict) and isinstance(source.get("field"), str)


def error(text: str, anchor: str) -> dict[str, str]:
    """One error of the error summary, linking to the input with the id anchor."""
    return {"text": text, "href": f"#{anchor}"}


def note_text(form: FormData, name: str) -> str:
    """A textarea's text, trimmed, its line endings as \\n (as a character count counts)."""
    return form_text(form, name).replace("\r\n", "\n").strip()


class CaseworkPages:
    """The route handlers of the queue and the case pages."""

    def __init__(
        self,
        node: NodeRuntime,
        templates: Jinja2Templates,
        definitions: Sequence[ServiceDefinition],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.node = node
        self.templates = templates
        self.definitions = {d.slug: d for d in definitions if d.has_journey}
        self.slugs = frozenset(self.definitions)
        self.clock = clock
        self.holder = node.settings.node.id

    # --- shared -----------------------------------------------------------------------------

    def render(
        self, request: Request, template: str, staff: StaffMember, status: int = 200, **context: Any
    ) -> Response:
        """A page of staff/ with what every one shows."""
        return render_staff_page(
            self.templates, request, self.node, staff, template, status, **context
        )

    def not_found(self, request: Request) -> Response:
        """The 404 page: no application of this node's services has this reference."""
        return reference_not_found(self.templates, request)

    def title(self, slug: str, lang: str = "en") -> str:
        """The title of the service slug, in lang when the service has it."""
        definition = self.definitions.get(slug)
        return definition.title.text(lang) if definition is not None else slug

    def log(
        self,
        session: Session,
        staff: StaffMember,
        action: str,
        subject: str,
        slug: str,
        detail: str,
        fields: Sequence[str] = (),
    ) -> None:
        """Log what staff did about the person whose application it is."""
        definition = self.definitions.get(slug)
        record_staff_action(
            session,
            staff,
            action,
            holder=self.holder,
            now=self.clock(),
            subject=subject,
            detail=detail,
            purpose=definition.purpose if definition is not None else None,
            fields=fields,
        )

    @staticmethod
    def reference(text: str) -> str | None:
        """The reference number in a path, or None when it is not one."""
        try:
            return str(parse_reference(text))
        except ReferenceNumberError:
            return None

    async def case(self, reference: str) -> Case | None:
        """The case with reference (not logged: the page that shows it logs)."""
        return await run_step(self.node.sessions, lambda s: find_case(s, self.slugs, reference))

    # --- the queue --------------------------------------------------------------------------

    async def queue(self, request: Request, staff: StaffSignedIn) -> Response:
        """The node's applications, newest first, filtered, counted and paged."""
        query = {name: request.query_params.getlist(name) for name in QUERY_NAMES}
        parsed = parse_filters(query, services=self.slugs, statuses=STATUSES, channels=CHANNELS)
        found = await run_step(self.node.sessions, lambda s: queue(s, self.slugs, parsed.filters))
        return self.render(
            request,
            "queue",
            staff,
            status=400 if parsed.problems else 200,
            errors=[error(text, anchor) for anchor, text in parsed.problems.items()],
            problems=parsed.problems,
            typed=parsed.typed,
            filters=parsed.filters,
            found=found,
            dates=self.date_inputs(parsed.typed, parsed.problems),
            **self.queue_view(parsed.filters, found, request_language(request)),
        )

    @staticmethod
    def date_inputs(typed: Mapping[str, str], problems: Mapping[str, str]) -> list[dict[str, Any]]:
        """The filter's two date inputs, with what was typed and any problem."""
        inputs = []
        for name, legend in DATES.items():
            wrong = problems.get(f"{name}-day")
            error = " govuk-input--error" if wrong else ""
            items = [
                {
                    "name": part,
                    "label": _(DATE_PARTS[part]),
                    "classes": f"govuk-input--width-{width}{error}",
                    "value": typed.get(f"{name}-{part}", ""),
                }
                for part, width in (("day", 2), ("month", 2), ("year", 4))
            ]
            legend_text = _(legend)
            inputs.append({"name": name, "legend": legend_text, "error": wrong, "items": items})
        return inputs

    def queue_view(self, filters: QueueFilters, found: QueuePage, lang: str) -> dict[str, Any]:
        """What the queue's template lays out: the form's choices, the counts, rows, pages
        (each service's title in lang when it has it)."""

        def title(slug: str) -> str:
            return self.title(slug, lang)

        services = sorted(self.definitions, key=title)
        return {
            "services": [
                {"value": slug, "text": title(slug), "selected": slug == filters.service}
                for slug in services
            ],
            "statuses": [
                {"value": s, "text": status_tag(s)["text"], "checked": s in filters.statuses}
                for s in STATUSES
            ],
            "channels": [
                {"value": c, "text": channel_label(c), "selected": c == filters.channel}
                for c in CHANNELS
            ],
            "status_counts": [
                {
                    "tag": status_tag(s),
                    "count": found.by_status.get(s, 0),
                    "href": QUEUE_PATH + filters.only(statuses=(s,)).query(),
                }
                for s in STATUSES
            ],
            "service_counts": [
                {
                    "title": title(slug),
                    "count": found.by_service.get(slug, 0),
                    "href": QUEUE_PATH + filters.only(service=slug).query(),
                }
                for slug in services
            ],
            "rows": [
                {
                    "reference": row.reference,
                    "href": f"{QUEUE_PATH}/{row.reference}",
                    "title": title(row.slug),
                    "submitted_at": row.submitted_at,
                    "channel": channel_label(row.channel),
                    "tag": status_tag(row.status),
                }
                for row in found.rows
            ],
            "pagination": self.pagination(filters, found),
            "clear": QUEUE_PATH,
        }

    @staticmethod
    def pagination(filters: QueueFilters, found: QueuePage) -> dict[str, Any] | None:
        """govukPagination's parameters, or None for a single page."""
        return pagination(found.page, found.last, lambda n: QUEUE_PATH + filters.on_page(n).query())

    # --- one case ---------------------------------------------------------------------------

    async def show(
        self, request: Request, reference: str, staff: StaffSignedIn, done: Done = ""
    ) -> Response:
        """One application, with its actions; opening it is logged."""
        parsed = self.reference(reference)
        if parsed is None:
            return self.not_found(request)

        def step(session: Session) -> Case | None:
            case = find_case(session, self.slugs, parsed)
            if case is not None:
                app = case.application
                read = [str(s["field"]) for s in app.sources.values() if _field_of(s)]
                self.log(session, staff, VIEWED, case.subject, app.slug, app.reference, read)
            return case

        case = await run_step(self.node.sessions, step)
        if case is None:
            return self.not_found(request)
        return self.case_page(request, staff, case, done=_(DONE[done]) if done in DONE else "")

    def slots(self, case: Case) -> list[dict[str, str]]:
        """The times the person chose, to confirm one of (empty: the service asks for none)."""
        definition = self.definitions[case.application.slug]
        for _page, question in definition.questions():
            chosen = case.application.answers.get(question.id)
            if question.type == "slots" and isinstance(chosen, list) and chosen:
                return [{"value": str(value), "text": display_slot(str(value))} for value in chosen]
        return []

    def case_page(
        self,
        request: Request,
        staff: StaffMember,
        case: Case,
        *,
        status: int = 200,
        errors: Sequence[dict[str, str]] = (),
        form: Mapping[str, str] | None = None,
        done: str = "",
    ) -> Response:
        """Render a case page (with errors of the last action, and what was typed)."""
        app = case.application
        definition = self.definitions[app.slug]
        registers = {
            str(s.get("register")): register_name(self.node, str(s.get("register")))
            for s in app.sources.values()
            if isinstance(s, dict)
        }
        questions = [q for _page, q in definition.questions()]
        lang = text_language(request, definition)
        barred = decision_barred(staff.role, staff.id, app.channel, app.acting_by)
        return self.render(
            request,
            "case",
            staff,
            status=status,
            case=case,
            application=app,
            title=self.title(app.slug, lang),
            tag=status_tag(app.status),
            channel=channel_label(app.channel),
            rows=case_rows(questions, app.answers, app.sources, registers, app.channel, lang),
            files=[
                {
                    "name": f.name,
                    "about": f"{f.content_type}, {size_text(f.size)}",
                    "href": f"{QUEUE_PATH}/{app.reference}/files/{f.id}",
                }
                for f in app.files
            ],
            history=[
                {"at": e.at, "tag": status_tag(e.status), "by": staff_by(e.by), "reason": e.reason}
                for e in reversed(app.events)
            ],
            can_review=app.status == SUBMITTED,
            barred=barred,
            slots=self.slots(case),
            errors=list(errors),
            messages={e["href"].lstrip("#"): e["text"] for e in errors},
            form=dict(form or {}),
            done=done,
            max_note=MAX_NOTE,
            max_reason=MAX_REASON,
        )

    async def problem(
        self,
        request: Request,
        staff: StaffMember,
        reference: str,
        status: int,
        errors: Sequence[dict[str, str]],
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """The case page again, as it is now, with why the last action did nothing."""
        case = await self.case(reference)
        if case is None:
            return self.not_found(request)
        return self.case_page(request, staff, case, status=status, errors=errors, form=form)

    async def review(self, request: Request, reference: str, staff: StaffSignedIn) -> Response:
        """Mark the application as in review (only while it is submitted)."""
        parsed = self.reference(reference)
        if parsed is None:
            return self.not_found(request)
        now = self.clock()

        def step(session: Session) -> str:
            row = application_row(session, self.slugs, parsed)
            if row is None:
                return "unknown"
            outcome = mark_in_review(session, row.slug, parsed, staff.role, now)
            if outcome == IN_REVIEW:
                self.log(session, staff, MARKED_IN_REVIEW, row.subject, row.slug, parsed)
            return outcome

        outcome = await run_step(self.node.sessions, step)
        if outcome == "unknown":
            return self.not_found(request)
        if outcome != IN_REVIEW:
            message = _("This application is not waiting for review: it is in review or closed")
            return await self.problem(request, staff, parsed, 409, [error(message, "status")])
        return RedirectResponse(f"{QUEUE_PATH}/{parsed}?done=in-review", status_code=303)

    async def decision(self, request: Request, reference: str, staff: StaffSignedIn) -> Response:
        """Approve or refuse the application: final, once, with the service's hook."""
        parsed = self.reference(reference)
        case = await self.case(parsed) if parsed is not None else None
        if parsed is None or case is None:
            return self.not_found(request)
        app = case.application
        barred = decision_barred(staff.role, staff.id, app.channel, app.acting_by)
        if barred == "role":
            raise StaffRoleError(staff, "manager")
        form = await read_form(request)
        typed = {
            "decision": form_text(form, "decision"),
            "reason": note_text(form, "reason"),
            "choice": form_text(form, "choice"),
        }
        if barred == "own":
            message = _(
                "You filled in this application with the person: another manager decides it"
            )
            return self.case_page(
                request, staff, case, status=403, errors=[error(message, "decision")]
            )
        errors = self.decision_problems(case, typed)
        if errors:
            return self.case_page(request, staff, case, status=400, errors=errors, form=typed)
        chosen = typed["decision"]
        decision = Decision(
            chosen,
            typed["reason"] if chosen == REFUSED else None,
            staff.role,
            choice=typed["choice"] if chosen == APPROVED and typed["choice"] else None,
        )
        definition = self.definitions[app.slug]
        now = self.clock()
        settings = self.node.settings

        def step(session: Session) -> tuple[str, bool]:
            outcome = decide(session, app.slug, parsed, decision, definition, now)
            told = False
            if outcome == "decided":
                self.log(session, staff, DECIDED, case.subject, app.slug, f"{parsed} {chosen}")
                if settings.email is not None:
                    told = tell_person(
                        session,
                        definition,
                        parsed,
                        decision,
                        node_name=settings.node.name,
                        base_url=settings.node.base_url,
                        now=now,
                    )
            return outcome, told

        try:
            outcome, told = await run_step(self.node.sessions, step)
        except DecisionRefusedError as exc:  # the hook refused: nothing of it was kept
            errors = [error(str(exc), "decision")]
            return await self.problem(request, staff, parsed, 409, errors, typed)
        if told:
            self.node.wake(EMAIL_EVENT)
        if outcome == "already-decided":
            message = _("This application has been decided already, or withdrawn: nothing changed")
            return await self.problem(request, staff, parsed, 409, [error(message, "status")])
        return RedirectResponse(f"{QUEUE_PATH}/{parsed}?done={chosen}", status_code=303)

    def decision_problems(self, case: Case, typed: Mapping[str, str]) -> list[dict[str, str]]:
        """What is missing or wrong in a decision's form, each linking to its input."""
        chosen = typed["decision"]
        if chosen not in (APPROVED, REFUSED):
            return [error(_("Select if you approve or refuse the application"), "decision")]
        if chosen == REFUSED:
            if not typed["reason"]:
                return [error(_("Enter the reason for refusing the application"), "reason")]
            if len(typed["reason"]) > MAX_REASON:
                text = _("The reason must be %(num)s characters or fewer") % {
                    "num": f"{MAX_REASON:,}"
                }
                return [error(text, "reason")]
            return []
        slots = [slot["value"] for slot in self.slots(case)]
        if slots and typed["choice"] not in slots:
            return [error(_("Select the time to confirm"), "choice")]
        return []

    async def note(self, request: Request, reference: str, staff: StaffSignedIn) -> Response:
        """Add a note to the application."""
        parsed = self.reference(reference)
        if parsed is None:
            return self.not_found(request)
        text = note_text(await read_form(request), "note")
        problem = ""
        if not text:
            problem = _("Enter a note")
        elif len(text) > MAX_NOTE:
            problem = _("A note must be %(num)s characters or fewer") % {"num": f"{MAX_NOTE:,}"}
        if problem:
            errors = [error(problem, "note")]
            return await self.problem(request, staff, parsed, 400, errors, {"note": text})
        now = self.clock()

        def step(session: Session) -> bool:
            row = application_row(session, self.slugs, parsed)
            if row is None:
                return False
            add_note(session, row.id, staff, text, now)
            self.log(session, staff, NOTED, row.subject, row.slug, f"{parsed}: a note")
            return True

        if not await run_step(self.node.sessions, step):
            return self.not_found(request)
        return RedirectResponse(f"{QUEUE_PATH}/{parsed}?done=note", status_code=303)

    async def download(
        self, request: Request, reference: str, file_id: str, staff: StaffSignedIn
    ) -> Response:
        """A file of the application, as an attachment of the type it was stored as."""
        parsed = self.reference(reference)
        if parsed is None or not FILE_ID.fullmatch(file_id):
            return self.not_found(request)

        def step(session: Session) -> Any:
            found = file_of(session, self.slugs, parsed, file_id)
            if found is not None:
                detail = f"{parsed}: {found.name}"
                self.log(session, staff, DOWNLOADED, found.subject, found.slug, detail)
            return found

        found = await run_step(self.node.sessions, step)
        if found is None:
            return self.not_found(request)
        return Response(
            found.content,
            media_type=found.content_type,
            headers={
                "Content-Disposition": attachment(found.name),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )


def make_casework_router(
    node: NodeRuntime, templates: Jinja2Templates, definitions: Sequence[ServiceDefinition]
) -> APIRouter:
    """/staff/applications: the queue, the case pages and their actions."""
    pages = CaseworkPages(node, templates, definitions)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    one = QUEUE_PATH + "/{reference}"
    for path, handler in (
        (QUEUE_PATH, pages.queue),
        (one, pages.show),
        (one + "/files/{file_id}", pages.download),
    ):
        router.add_api_route(path, handler, methods=["GET"])
    # A POST without a staff session goes to sign in before its CSRF token is checked.
    checked = [Depends(ANY_STAFF), Depends(require_csrf)]
    for action, post in (
        ("/in-review", pages.review),
        ("/decision", pages.decision),
        ("/notes", pages.note),
    ):
        router.add_api_route(one + action, post, methods=["POST"], dependencies=checked)
    return router
