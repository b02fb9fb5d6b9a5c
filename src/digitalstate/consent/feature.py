"""How the consent feature is installed on a node (docs/adr/0008).

On a charter: consent requests and basis reads on the exchange, the consent screen and the
person's pages, and two background tasks (telling holders of withdrawals they have not
confirmed; marking consents expired). On a register: the holder's copy of consents.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.consent import api, flows, pages
from digitalstate.node.features import Feature
from digitalstate.node.roles import CONSENT_WITHDRAWALS
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add this feature's routes and background work to a node."""
    roles = set(node.settings.node.roles)
    if "charter" in roles:
        install_routes(app, api.make_charter_router())
        install_routes(app, pages.make_pages_router(node, templates))
        node.exclusive(CONSENT_WITHDRAWALS, lambda: flows.run_withdrawal_retries(node))
        node.background.append(lambda: flows.run_expiry(node))
    if "register" in roles:
        install_routes(app, api.make_holder_router())


FEATURE = Feature(name="consent", roles=frozenset({"charter", "register"}), install=install)
