"""A service node's JSON API: its declared services, their e-forms, and a person's applications.

`GET /api/v1/services` and `GET /api/v1/services/<slug>/eform` are public (what a service
asks is no secret). `GET /api/v1/applications` and `/api/v1/applications/<reference>` answer
only the person signed in at this node, with the same session as its pages; without one they
answer 401 `sign-in-required`, and another person's reference 404 `not-found`. Every error is
problem+json (docs/services.md, docs/errors.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from digitalstate.identity.relying_party import Subject, current_subject
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.routing import Router
from digitalstate.services.applications import ApplicationView, application_of, applications_of
from digitalstate.services.definitions import ServiceDefinition
from digitalstate.services.eform import schema_of
from digitalstate.services.references import ReferenceNumberError, parse_reference
from digitalstate.services.schemas import (
    ApplicationDetail,
    ApplicationEventOut,
    ApplicationFileOut,
    ApplicationList,
    ApplicationOut,
    ServiceLinks,
    ServiceList,
    ServiceSummary,
)

API_PATH = "/api/v1"
DETAILS_PATH = "/service"


def make_api_router(
    node: NodeRuntime, definitions: Sequence[ServiceDefinition], details: str | None
) -> APIRouter:
    """The API of the services definitions declare; details is the slug of the service whose
    "check your details" pages are at /service (None: none)."""
    base = node.settings.node.base_url
    by_slug = {definition.slug: definition for definition in definitions}
    router = Router(prefix=API_PATH, tags=["services"])

    def summary(definition: ServiceDefinition) -> ServiceSummary:
        journey = definition.has_journey
        start = f"/services/{definition.slug}" if journey else None
        if definition.slug == details:
            start = DETAILS_PATH
        eform = f"{API_PATH}/services/{definition.slug}/eform" if journey else None
        return ServiceSummary(
            slug=definition.slug,
            kind="application" if journey else "details",
            title={lang: definition.title.text(lang) for lang in definition.languages},
            description={lang: definition.description.text(lang) for lang in definition.languages},
            purpose=definition.purpose,
            languages=list(definition.languages),
            links=ServiceLinks(
                start=base + start if start else None, eform=base + eform if eform else None
            ),
        )

    listed = ServiceList(member=node.settings.node.id, services=[summary(d) for d in definitions])

    @router.get("/services", response_model=ServiceList)
    def services() -> ServiceList:
        """The services this node declares, with their titles in each of their languages."""
        return listed

    @router.get("/services/{slug}/eform")
    def eform(slug: str, lang: Literal["en", "cy"] = "en") -> JSONResponse:
        """The JSON Schema (2020-12) of the answers the service submits, titled in lang."""
        definition = by_slug.get(slug)
        if definition is None or not definition.has_journey:
            raise Problem("not-found", f"this node has no service with pages named {slug!r}")
        if lang not in definition.languages:
            raise Problem(
                "not-found", f"{slug} is in {', '.join(definition.languages)}, not in {lang}"
            )
        return JSONResponse(schema_of(definition, lang))

    def signed_in(request: Request) -> Subject:
        subject = current_subject(request)
        if subject is None:
            raise Problem("sign-in-required", "sign in at this node to see your applications")
        return subject

    def listed_application(application: ApplicationView) -> ApplicationOut:
        definition = by_slug.get(application.slug)
        return ApplicationOut(
            reference=application.reference,
            service=application.slug,
            title=definition.title.text("en") if definition else application.slug,
            status=application.status,
            channel=application.channel,
            submitted_at=application.submitted_at,
            updated_at=application.updated_at,
            page=f"{base}/applications/{application.reference}",
        )

    @router.get("/applications", response_model=ApplicationList)
    def applications(request: Request) -> ApplicationList:
        """The signed-in person's applications at this node, newest first."""
        subject = signed_in(request)
        with node.sessions.begin() as session:
            found = applications_of(session, subject.sub)
        return ApplicationList(applications=[listed_application(a) for a in found])

    @router.get("/applications/{reference}", response_model=ApplicationDetail)
    def application(reference: str, request: Request) -> ApplicationDetail:
        """One of the signed-in person's applications, with its answers and history."""
        subject = signed_in(request)
        try:
            parsed = str(parse_reference(reference))
        except ReferenceNumberError as exc:
            raise Problem(
                "not-found", f"no application of yours has this reference: {exc}"
            ) from exc
        with node.sessions.begin() as session:
            found = application_of(session, subject.sub, parsed)
        if found is None:
            raise Problem("not-found", "no application of yours has this reference")
        return ApplicationDetail(
            **listed_application(found).model_dump(),
            answers=found.answers,
            sources=found.sources,
            language=found.language,
            events=[
                ApplicationEventOut(at=e.at, status=e.status, reason=e.reason, by=e.by)
                for e in found.events
            ],
            files=[
                ApplicationFileOut(
                    question=f.question_id,
                    name=f.name,
                    type=f.content_type,
                    size=f.size,
                    sha256=f.sha256,
                )
                for f in found.files
            ],
        )

    return router
