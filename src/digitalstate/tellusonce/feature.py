"""How the tellusonce feature is installed on a node (docs/adr/0008).

On a register node: the outbox's delivery worker and the operator's outbox page. On a service
node: the route that takes change notices and the worker that re-reads after them. Importing
this module registers the `change-address` action (tellusonce/change_address.py), which a
register that also runs services (the People register) offers as a declared journey.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.node.features import Feature
from digitalstate.node.roles import NOTICE_DELIVERY
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes
from digitalstate.tellusonce import change_address as _registers_the_action  # noqa: F401
from digitalstate.tellusonce.api import make_api_router
from digitalstate.tellusonce.pages import make_pages_router
from digitalstate.tellusonce.rereads import RereadWorker
from digitalstate.tellusonce.worker import OUTBOX_EVENT, DeliveryWorker


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add this feature's routes and background work to a node."""
    roles = node.settings.node.roles
    if "register" in roles:
        install_routes(app, make_pages_router(node, templates))
        node.exclusive(NOTICE_DELIVERY, DeliveryWorker(node).run, wakes=OUTBOX_EVENT)
    if "service" in roles:
        install_routes(app, make_api_router(node))
        # In every worker: the one that took a notice re-reads at once; a re-read twice (a
        # sweep of another worker meeting it) only refreshes the copy twice.
        node.background.append(RereadWorker(node).run)


FEATURE = Feature(name="tellusonce", roles=frozenset({"register", "service"}), install=install)
