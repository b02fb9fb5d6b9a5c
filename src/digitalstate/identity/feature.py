"""How the identity feature is installed on a node (docs/adr/0008).

Every node gets sessions, CSRF protection and the relying party (/auth/...). The charter also
runs the OpenID Connect provider (/.well-known/openid-configuration, /oidc/...) and its own
pages (/sign-in, /sign-out, /my, /my/helpers).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.templating import Jinja2Templates

from digitalstate.identity.charter_session import make_charter_session_router
from digitalstate.identity.oidc import CharterServer
from digitalstate.identity.pages import make_pages_router
from digitalstate.identity.provider import make_provider_router
from digitalstate.identity.relying_party import default_token_poster, make_relying_party_router
from digitalstate.identity.throttle import SignInGuard
from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes
from digitalstate.web.session import install_sessions


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add sessions and sign-in to every node; the provider and people's pages to the charter."""
    install_sessions(app, node, templates)
    # The one call to the charter's token endpoint; in-process tests replace it.
    app.state.oidc_token_poster = default_token_poster(node)
    install_routes(app, make_relying_party_router(node, templates))
    if "charter" in node.settings.node.roles:
        server = CharterServer(node)
        app.state.oidc_server = server
        install_routes(app, make_provider_router(node, templates, server))
        # The sign-in limits; tests reach its clock here.
        guard = app.state.sign_in_guard = SignInGuard(node.settings.signin)
        install_routes(app, make_charter_session_router(node, templates, guard))
        install_routes(app, make_pages_router(node, templates))


FEATURE = Feature(name="identity", roles=frozenset({"*"}), install=install)
