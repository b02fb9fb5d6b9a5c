"""How the staff feature is installed on a service node (docs/staff.md, docs/adr/0018).

/staff becomes a session zone of its own, with [staff] timeouts; its sign-in counts failures
under [signin] in the realm "staff"; a role that does not allow a page answers 403.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.throttle import SignInGuard
from digitalstate.node.features import Feature
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import install_routes
from digitalstate.staff.domain import ROLE_LABELS
from digitalstate.staff.pages import make_pages_router
from digitalstate.staff.sessions import HOME_PATH, STAFF_ZONE, StaffRoleError
from digitalstate.web.i18n import _
from digitalstate.web.session import SessionZone, add_session_zone
from digitalstate.web.session_store import KIND_STAFF, SqlSessionStore


def install(app: FastAPI, node: NodeRuntime, templates: Jinja2Templates) -> None:
    """Add the /staff session zone, the staff's pages and their 403 page."""
    settings = node.settings.staff
    lifetime = timedelta(hours=settings.session_hours)
    # The store and the guard are on app.state for tests to reach their clocks.
    store = app.state.staff_session_store = SqlSessionStore(
        node.sessions,
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=lifetime,
        kinds={KIND_STAFF},
    )
    add_session_zone(
        app,
        SessionZone(STAFF_ZONE, HOME_PATH, store, max_age=max(1, int(lifetime.total_seconds()))),
    )
    guard = app.state.staff_sign_in_guard = SignInGuard(node.settings.signin, realm=STAFF_ZONE)
    install_routes(app, make_pages_router(node, templates, guard))

    async def on_role_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StaffRoleError)
        return templates.TemplateResponse(
            request,
            "identity/problem.html",
            {
                "node": node.settings.node,
                "title": _("You cannot use this page"),
                "message": _("This page is for a %(needed)s. You are signed in as a %(role)s.")
                % {
                    "needed": _(ROLE_LABELS[exc.needed]).lower(),
                    "role": _(exc.staff.role_label).lower(),
                },
                "advice": _("Ask a manager if you need to use it."),
                "detail": None,
                "link": {"href": HOME_PATH, "text": _("Go back to the staff home page")},
            },
            status_code=403,
        )

    app.add_exception_handler(StaffRoleError, on_role_refused)


FEATURE = Feature(name="staff", roles=frozenset({"service"}), install=install)
