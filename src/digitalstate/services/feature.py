"""How the services feature is installed on a node (docs/adr/0008, 0017, docs/services.md)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.feature import install_performance
from digitalstate.performance.reports import MeasuredService
from digitalstate.routing import install_routes
from digitalstate.services.api import make_api_router
from digitalstate.services.application_pages import make_applications_router
from digitalstate.services.assisted_pages import ASSISTED_PATH, make_assisted_router
from digitalstate.services.casework_pages import QUEUE_PATH, make_casework_router
from digitalstate.services.definitions import (
    ServiceDefinitionError,
    check_against,
    read_definitions,
)
from digitalstate.services.handlers import unregistered
from digitalstate.services.journey_pages import make_journey_router
from digitalstate.services.journeys import Journey, upload_body_limit
from digitalstate.services.pages import make_pages_router
from digitalstate.staff.sessions import add_staff_link
from digitalstate.web.hardening import allow_larger_body
from digitalstate.web.i18n import N_


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Read every service the node's [services] files declare (the node does not start if
    one is unusable, two share a slug, or one names an action or slot source no code here
    runs); add the pages of every service with pages, /applications, the staff's queue, case
    and assisted digital pages (under /staff), the JSON API, and the "check your details"
    pages of the first service without pages, if any."""
    files = node.settings.service_files
    if not files:
        return  # a node that declares no service shows no service pages
    member = node.settings.node.id
    definitions = read_definitions(files)
    for path, definition in zip(files, definitions, strict=True):
        problem = unregistered(definition)
        if problem is not None:
            raise ServiceDefinitionError(f"{path}: {problem}")

    def ready() -> dict[str, Any]:
        for path, definition in zip(files, definitions, strict=True):
            problem = unregistered(definition)
            if problem is not None:
                return {"ok": False, "detail": f"{path}: {problem}"}
        document = node.keeper.document
        if document is None:
            return {"ok": False, "detail": "no federation document to check the services against"}
        for path, definition in zip(files, definitions, strict=True):
            problem = check_against(path, definition.entry(member), document)
            if problem is not None:
                return {"ok": False, "detail": problem}
        described = [f"{d.purpose}: {p.name}" for p, d in zip(files, definitions, strict=True)]
        return {"ok": True, "detail": ", ".join(described)}

    node.checks["services"] = ready
    simple = [d for d in definitions if not d.has_journey]
    if simple:
        install_routes(app, make_pages_router(node, templates, simple[0].entry(member)))
    journeys = [Journey(d, d.entry(member)) for d in definitions if d.has_journey]
    if journeys:
        _allow_uploads(app, node, journeys)
        install_routes(app, make_journey_router(node, templates, journeys))
        install_routes(app, make_applications_router(node, templates, definitions))
        install_routes(app, make_casework_router(node, templates, definitions))
        install_routes(app, make_assisted_router(node, templates, journeys))
        install_performance(app, node, templates, [measured(j) for j in journeys])
        add_staff_link(app, QUEUE_PATH, N_("Applications"))
        add_staff_link(app, ASSISTED_PATH, N_("Help someone apply (assisted digital)"))
    details = simple[0].slug if simple else None
    install_routes(app, make_api_router(node, definitions, details))


def measured(journey: Journey) -> MeasuredService:
    """A journey as the performance pages name it: its title and its pages' titles."""
    definition = journey.definition
    return MeasuredService(
        journey.slug,
        definition.title.text,
        {page.id: page.title.text for page in definition.pages},
    )


def _allow_uploads(app: FastAPI, node: NodeRuntime, journeys: list[Journey]) -> None:
    """Let each page with file questions take bodies as large as its files may be, on the
    person's pages and on staff's assisted digital pages."""
    cap = node.settings.services.max_upload_bytes
    base = node.settings.web.max_body_bytes
    for journey in journeys:
        for page in journey.definition.pages:
            if journey.file_questions(page):
                limit = upload_body_limit(page, cap, base)
                allow_larger_body(app, f"{journey.path}/{page.id}", limit)
                assisted = f"{ASSISTED_PATH}/{journey.slug}/{{case}}/{page.id}"
                allow_larger_body(app, assisted, limit)


FEATURE = Feature(name="services", roles=frozenset({"service"}), install=install)
