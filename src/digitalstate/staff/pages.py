"""The staff's pages at a service node: /staff/sign-in, /staff/sign-out and /staff.

Staff sign in with an email address and password at their own node (their account is this
node's, never a person's), through the same sign-in pages and guessing limits as people at the
charter (identity/sign_in_form.py, docs/adr/0014), counted in the realm "staff". Every sign-in,
failed sign-in and sign-out is an entry in the node's log (service.py).
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.sign_in_form import SignInPages
from digitalstate.identity.throttle import SignInGuard
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.staff.service import staff_verifier
from digitalstate.staff.sessions import (
    HOME_PATH,
    SIGN_IN_PATH,
    SIGN_OUT_PATH,
    StaffSignedIn,
    sign_in_staff,
    sign_out_staff,
    staff_links,
    staff_next,
)
from digitalstate.web.session import require_csrf


class StaffPages:
    """The route functions of the staff's sign-out and home page."""

    def __init__(self, node: NodeRuntime, templates: Jinja2Templates, pages: SignInPages) -> None:
        self.node = node
        self.templates = templates
        self.pages = pages

    def sign_out_submit(self, request: Request) -> Response:
        """Sign out of the staff pages: the session ends for every copy of its cookie."""
        sign_out_staff(request, self.node.settings.node.id)
        return self.pages.signed_out(request)

    def home(self, request: Request, staff: StaffSignedIn) -> Response:
        """Who is signed in, and their role."""
        context = {"node": self.node.settings.node, "staff": staff, "links": staff_links(request)}
        return self.templates.TemplateResponse(request, "staff/home.html", context)


def make_pages_router(
    node: NodeRuntime, templates: Jinja2Templates, guard: SignInGuard
) -> APIRouter:
    """/staff/sign-in (GET, POST), /staff/sign-out (POST) and /staff (GET)."""
    member_id = node.settings.node.id
    sign_in = SignInPages(
        templates,
        node.settings.node,
        node.sessions,
        guard,
        template="staff/sign_in.html",
        sign_in_path=SIGN_IN_PATH,
        next_of=staff_next,
        start=partial(sign_in_staff, holder=member_id),
        verify=staff_verifier(member_id, lambda: guard.clock()),
    )
    pages = StaffPages(node, templates, sign_in)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    csrf = [Depends(require_csrf)]
    router.add_api_route(SIGN_IN_PATH, sign_in.form, methods=["GET"])
    router.add_api_route(SIGN_IN_PATH, sign_in.submit, methods=["POST"], dependencies=csrf)
    router.add_api_route(SIGN_OUT_PATH, pages.sign_out_submit, methods=["POST"], dependencies=csrf)
    router.add_api_route(HOME_PATH, pages.home, methods=["GET"])
    return router
