"""How the feedback feature is installed on a service node (docs/feedback.md, docs/adr/0026).

The satisfaction question at the end points of the node's declared services, the stories told
about the node, its services and the other nodes of the federation, their moderation by staff
(under /staff), the public pages, the Atom feed, the JSON read API and the datasets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from digitalstate.feedback.api import make_api_router
from digitalstate.feedback.catalogue import Catalogue
from digitalstate.feedback.datasets import (
    NAME,
    RESPONSES,
    STORIES,
    response_rows,
    stories_spec,
    story_rows,
)
from digitalstate.feedback.pages import make_pages_router
from digitalstate.feedback.published import all_published, all_responses
from digitalstate.feedback.staff_pages import STORIES_PATH, make_staff_router
from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.performance.domain import ServiceEvent
from digitalstate.performance.service import rated_before, record
from digitalstate.publishing.domain import Row
from digitalstate.publishing.service import PublishedDataset
from digitalstate.routing import install_routes
from digitalstate.services.definitions import read_definitions
from digitalstate.staff.sessions import add_staff_link
from digitalstate.web.i18n import N_


def record_rating(
    db: Session, service: str, journey: str | None, rating: int, now: datetime
) -> None:
    """Record a satisfaction answer as the service's `rated` event (value 1..5), naming the
    journey only when it is the journey's first: the form that carries the id can be posted
    again and again, and an experiment counts a journey's rating for its variant."""
    if journey is not None and rated_before(db, journey):
        journey = None
    record(db, ServiceEvent(service, "rated", now, journey=journey, value=rating))


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the feedback and story pages, the staff's story pages, the API and the datasets."""
    definitions = read_definitions(node.settings.service_files)
    settings = node.settings.node
    catalogue = Catalogue(
        member=settings.id,
        name=settings.name,
        services={d.slug: d for d in definitions if d.has_journey},
        document=lambda: node.keeper.document,
    )
    install_routes(app, make_pages_router(node, templates, catalogue, record_rating))
    install_routes(app, make_staff_router(node, templates, catalogue))
    install_routes(app, make_api_router(node, catalogue))
    add_staff_link(app, STORIES_PATH, N_("Stories told about this node and its services"))
    node.datasets[NAME] = stories_dataset(settings.name)


def stories_dataset(node_name: str) -> PublishedDataset:
    """The dataset `stories`: every published story and every response to one."""

    def read(db: Session) -> Mapping[str, Iterable[Row]]:
        return {
            STORIES: story_rows(all_published(db)),
            RESPONSES: response_rows(all_responses(db)),
        }

    return PublishedDataset(stories_spec(node_name), read)


FEATURE = Feature(name="feedback", roles=frozenset({"service"}), install=install)
