"""The applicant's evidence page: a document that proves who they are, when the check failed.

When the identity check could not match the person's National Insurance number, name and date
of birth, their application's page asks for a document (electoral/service.py notes) and links
here. The file is the answer to the service's evidence question (`identity-evidence`): checked
as that question checks it (by its bytes, within its size), kept with the application, and a
caseworker then decides. Only the applicant's own application: another person's reference, or
an application that asks for no evidence, answers 404 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.electoral.domain import EVIDENCE, EVIDENCE_NEEDED
from digitalstate.electoral.service import (
    ACTION,
    check_of,
    own_application,
    take_evidence,
)
from digitalstate.identity.relying_party import Subject, require_subject
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.services.application_pages import reference_not_found
from digitalstate.services.applications import BY_HELPER, BY_PERSON
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.filetypes import Upload, check_upload
from digitalstate.services.journeys import capped, text_language
from digitalstate.services.presenter import file_accept, file_hint
from digitalstate.services.questions import Question
from digitalstate.services.references import ReferenceNumberError, parse_reference
from digitalstate.storage.retrying import run_step
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.session import (
    CSRF_FIELD,
    CSRF_SESSION_KEY,
    CsrfRejectedError,
    csrf_matches,
)

SignedIn = Annotated[Subject, Depends(require_subject)]
SEND_PATH = "/applications/evidence"


class EvidencePages:
    """The evidence page of the node's register-to-vote services."""

    def __init__(
        self,
        node: NodeRuntime,
        templates: Jinja2Templates,
        definitions: Mapping[str, ServiceDefinition],
    ) -> None:
        self.node = node
        self.templates = templates
        self.definitions = definitions  # the services whose action is electoral-registration
        self.cap = node.settings.services.max_upload_bytes

    def question(self, slug: str) -> tuple[ServiceDefinition, Question] | None:
        """The service slug and its evidence question, if it is one of this action's."""
        definition = self.definitions.get(slug)
        question = definition.question(EVIDENCE) if definition is not None else None
        if definition is None or question is None:
            return None
        return definition, capped(question, self.cap)

    async def asked(
        self, subject: Subject, reference: str
    ) -> tuple[str, ServiceDefinition, Question] | None:
        """subject's application reference when it waits for evidence, with its service and
        evidence question; None otherwise (malformed, unknown, another's, not asked)."""
        try:
            parsed = str(parse_reference(reference[:20]))
        except ReferenceNumberError:
            return None

        def find(session: Any) -> str | None:
            application = own_application(session, subject.sub, parsed)
            if application is None:
                return None
            check = check_of(session, application)
            waiting = check is not None and check.state == EVIDENCE_NEEDED
            return application.slug if waiting else None

        slug = await run_step(self.node.sessions, find)
        found = self.question(slug) if slug is not None else None
        return None if found is None else (parsed, *found)

    def render(
        self,
        request: Request,
        reference: str,
        definition: ServiceDefinition,
        question: Question,
        error: str = "",
    ) -> Response:
        """The evidence page (400 with its error), the service's texts in the page's language
        when the service declares it."""
        lang = text_language(request, definition)
        context = {
            "node": self.node.settings.node,
            "journey": None,
            "reference": reference,
            "title": definition.title.text(lang),
            "label": question.label.text(lang),
            "hint": file_hint(question, lang),
            "accept": file_accept(question),
            "error": error,
        }
        return self.templates.TemplateResponse(
            request, "electoral/evidence.html", context, status_code=400 if error else 200
        )

    def not_found(self, request: Request) -> Response:
        """The 404 page: no application of this person asks for evidence under this reference."""
        return reference_not_found(self.templates, request)

    async def show(self, request: Request, reference: str, subject: SignedIn) -> Response:
        """Upload a document that proves who you are."""
        found = await self.asked(subject, reference)
        if found is None:
            return self.not_found(request)
        return self.render(request, found[0], found[1], found[2])

    async def send(self, request: Request, subject: SignedIn) -> Response:
        """Keep the document as the application's evidence, or show the page with its error."""
        form = await read_form(request, max_files=1)
        try:
            if not csrf_matches(request.session.get(CSRF_SESSION_KEY), form.get(CSRF_FIELD)):
                raise CsrfRejectedError
            found = await self.asked(subject, form_text(form, "reference"))
            if found is None:
                return self.not_found(request)
            reference, definition, question = found
            posted = form.get(EVIDENCE)
            upload = None
            if isinstance(posted, UploadFile):
                upload = Upload(posted.filename or "", await posted.read(question.upload_limit + 1))
            error = check_upload(question.model_copy(update={"required": True}), upload)
            if error is not None or upload is None:
                return self.render(request, reference, definition, question, error or "")
        finally:
            await form.close()
        by = BY_HELPER if subject.acting_for else BY_PERSON
        now = datetime.now(UTC)
        await run_step(
            self.node.sessions,
            lambda s: take_evidence(s, subject.sub, reference, upload, by, now),
        )
        return RedirectResponse(f"/applications/{reference}", status_code=303)


def make_evidence_router(
    node: NodeRuntime, templates: Jinja2Templates, definitions: Mapping[str, ServiceDefinition]
) -> APIRouter:
    """GET /applications/<reference>/evidence and the form's POST /applications/evidence (one
    fixed address, so that its larger body can be allowed: web/hardening.allow_larger_body)."""
    pages = EvidencePages(node, templates, definitions)
    router = Router(include_in_schema=False)
    router.add_api_route(
        "/applications/{reference}/evidence",
        pages.show,
        methods=["GET"],
        response_class=HTMLResponse,
    )
    router.add_api_route(SEND_PATH, pages.send, methods=["POST"], response_class=HTMLResponse)
    return router


def services_of(definitions: Mapping[str, ServiceDefinition]) -> dict[str, ServiceDefinition]:
    """The services whose action is electoral-registration, by slug."""
    return {
        slug: d
        for slug, d in definitions.items()
        if d.submit is not None and d.submit.action == ACTION
    }
