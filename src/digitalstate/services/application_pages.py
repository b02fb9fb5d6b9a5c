"""A person's applications at this node: the list, one application, and withdrawing it.

Only the signed-in person's own applications: another person's reference answers 404 and
changes nothing, on every route. Withdrawing is possible until the application is decided
(and after an approval, when the service registers a cancellation: "Cancel this visit"), and
is kept as an event of its history (services/applications.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.relying_party import Subject, require_subject
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.services.applications import (
    BY_HELPER,
    BY_PERSON,
    ApplicationView,
    application_of,
    application_with_notes,
    applications_of,
    cancellation_of,
    withdraw,
    withdrawable,
)
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.handlers import REASONS, Note, WithdrawalRefusedError
from digitalstate.services.journeys import register_name, text_language
from digitalstate.services.presenter import answer_rows, by_whom, event_reason, status_tag
from digitalstate.services.references import ReferenceNumberError, parse_reference
from digitalstate.storage.retrying import run_step
from digitalstate.web.error_pages import not_found_page
from digitalstate.web.i18n import _
from digitalstate.web.session import require_csrf

SignedIn = Annotated[Subject, Depends(require_subject)]
APPLICATIONS_PATH = "/applications"


def _parsed(reference: str) -> str | None:
    """The reference number in its one written form, or None when it is not one."""
    try:
        return str(parse_reference(reference))
    except ReferenceNumberError:
        return None


def reference_not_found(templates: Jinja2Templates, request: Request) -> Response:
    """The 404 page of a reference number that names no application here (for whoever asks)."""
    return not_found_page(
        templates, request, _("If you typed the reference number, check it is correct.")
    )


class ApplicationPages:
    """The route handlers of the person's applications."""

    def __init__(
        self,
        node: NodeRuntime,
        templates: Jinja2Templates,
        definitions: Sequence[ServiceDefinition],
    ) -> None:
        self.node = node
        self.templates = templates
        self.definitions = {definition.slug: definition for definition in definitions}

    def render(self, request: Request, page: str, status: int = 200, **context: Any) -> Response:
        """A page of services/journey/."""
        base = {"node": self.node.settings.node, "journey": None}
        return self.templates.TemplateResponse(
            request, f"services/journey/{page}.html", base | context, status_code=status
        )

    def title(self, request: Request, slug: str) -> str:
        """The title of the service slug in the page's language when the service has it (the
        slug, for a service no longer declared)."""
        definition = self.definitions.get(slug)
        if definition is None:
            return slug
        return definition.title.text(text_language(request, definition))

    def not_found(self, request: Request) -> Response:
        """The 404 page: no application of this person has this reference."""
        return reference_not_found(self.templates, request)

    async def own(self, subject: Subject, reference: str) -> ApplicationView | None:
        """subject's application with reference, or None (malformed, unknown or not theirs)."""
        parsed = _parsed(reference)
        if parsed is None:
            return None
        return await run_step(self.node.sessions, lambda s: application_of(s, subject.sub, parsed))

    async def list(self, request: Request, subject: SignedIn) -> Response:
        """Your applications at this node, newest first, with their status."""
        found = await run_step(self.node.sessions, lambda s: applications_of(s, subject.sub))
        rows = [
            {
                "reference": application.reference,
                "title": self.title(request, application.slug),
                "submitted_at": application.submitted_at,
                "tag": status_tag(application.status),
            }
            for application in found
        ]
        return self.render(request, "applications", rows=rows)

    async def show(self, request: Request, reference: str, subject: SignedIn) -> Response:
        """One application: its answers, its history, what its service's action says of it
        now (read with it: application_with_notes), and withdraw while undecided."""
        parsed = _parsed(reference)
        if parsed is None:
            return self.not_found(request)
        document = self.node.keeper.document
        found = await run_step(
            self.node.sessions,
            lambda s: application_with_notes(
                s, subject.sub, parsed, self.definitions.get, document
            ),
            read_only=True,
        )
        if found is None:
            return self.not_found(request)
        application, notes = found
        return self.page(request, application, notes=notes)

    def page(
        self,
        request: Request,
        application: ApplicationView,
        problem: str = "",
        notes: Sequence[Note] = (),
    ) -> Response:
        """Render an application's page."""
        definition = self.definitions.get(application.slug)
        questions = [q for _, q in definition.questions()] if definition is not None else []
        lang = text_language(request, definition) if definition is not None else "en"
        rows = answer_rows(questions, application.answers, application.sources, lang)
        submit = definition.submit if definition is not None else None
        own = (REASONS.get(submit.action) if submit is not None else None) or frozenset()
        for row in rows:
            if row["register"] is not None:
                row["register"] = register_name(self.node, row["register"])
        history = [
            {
                "at": event.at,
                "tag": status_tag(event.status),
                "reason": event_reason(event.reason, own),
                "by": by_whom(event.by),
            }
            for event in reversed(application.events)
        ]
        return self.render(
            request,
            "application",
            status=409 if problem else 200,
            application=application,
            title=self.title(request, application.slug),
            tag=status_tag(application.status),
            rows=rows,
            history=history,
            problem=problem,
            notes=notes,
            cancel=self.cancel_button(application),
        )

    def cancel_button(self, application: ApplicationView) -> str | None:
        """The words of the button that cancels an approved application ("Cancel this
        visit"), when its service allows it; None otherwise."""
        definition = self.definitions.get(application.slug)
        cancellation = cancellation_of(definition)
        if application.undecided or cancellation is None:
            return None
        return cancellation.button if withdrawable(application.status, definition) else None

    async def confirm_withdraw(
        self, request: Request, reference: str, subject: SignedIn
    ) -> Response:
        """Are you sure you want to withdraw?"""
        application = await self.own(subject, reference)
        if application is None:
            return self.not_found(request)
        definition = self.definitions.get(application.slug)
        if not withdrawable(application.status, definition):
            return RedirectResponse(f"{APPLICATIONS_PATH}/{application.reference}", 303)
        cancellation = None if application.undecided else cancellation_of(definition)
        return self.render(
            request,
            "withdraw",
            application=application,
            title=self.title(request, application.slug),
            cancellation=cancellation,
        )

    async def withdraw(self, request: Request, reference: str, subject: SignedIn) -> Response:
        """Withdraw the application, if it is not decided yet."""
        application = await self.own(subject, reference)
        if application is None:
            return self.not_found(request)
        by = BY_HELPER if subject.acting_for else BY_PERSON
        now = datetime.now(UTC)
        definition = self.definitions.get(application.slug)
        try:
            outcome = await run_step(
                self.node.sessions,
                lambda s: withdraw(
                    s, subject.sub, application.reference, by, now, definition=definition
                ),
            )
        except WithdrawalRefusedError as refused:
            return self.page(request, application, problem=str(refused))
        if outcome == "decided":
            decided = await self.own(subject, application.reference)
            return self.page(
                request,
                decided or application,
                problem=_("This application has been decided, so it cannot be withdrawn."),
            )
        return RedirectResponse(f"{APPLICATIONS_PATH}/{application.reference}", 303)


def make_applications_router(
    node: NodeRuntime, templates: Jinja2Templates, definitions: Sequence[ServiceDefinition]
) -> APIRouter:
    """/applications: the signed-in person's applications at this node."""
    pages = ApplicationPages(node, templates, definitions)
    router = Router(include_in_schema=False)
    one = APPLICATIONS_PATH + "/{reference}"
    for path, handler in (
        (APPLICATIONS_PATH, pages.list),
        (one, pages.show),
        (one + "/withdraw", pages.confirm_withdraw),
    ):
        router.add_api_route(path, handler, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(
        one + "/withdraw",
        pages.withdraw,
        methods=["POST"],
        dependencies=[Depends(require_csrf)],
    )
    return router
