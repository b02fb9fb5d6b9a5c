"""How the experiments feature is installed on a service node (docs/experiments.md, ADR 0027).

The services feature shows each person their variant; this feature adds the staff's pages
that compare the variants and stop an experiment, when a service of the node declares one.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.experiments.pages import EXPERIMENTS_PATH, make_experiments_router
from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes
from digitalstate.services.definitions import read_definitions
from digitalstate.staff.sessions import add_staff_link
from digitalstate.web.i18n import N_


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add /staff/experiments when a service of the node declares an experiment."""
    definitions = [d for d in read_definitions(node.settings.service_files) if d.experiments]
    if not definitions:
        return
    install_routes(app, make_experiments_router(node, templates, definitions))
    add_staff_link(app, EXPERIMENTS_PATH, N_("Experiments"))


FEATURE = Feature(name="experiments", roles=frozenset({"service"}), install=install)
