"""Who is signed in as staff: the /staff session zone, require_staff, signing in and out.

Staff pages live under /staff, which is a session zone of its own (web/session.py): its
cookie is ``ds-<member id>.staff`` with path /staff, sealed under a key of its own, with its
own CSRF token; its sessions are ``web_sessions`` rows of the kind ``staff`` whose subject is
the account id, under [staff] timeouts. People's sessions are never read there, and a staff
session never counts on people's pages (docs/adr/0018).

Later staff pages (the queue, case pages) take ``Depends(require_staff())``, or
``require_staff("manager")`` for what only a manager may do, and call
``service.record_staff_action`` for each action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import NodeRuntime
from digitalstate.staff.domain import Role, StaffMember, may_act_as
from digitalstate.staff.service import active_member, signed_in_entry, signed_out_entry
from digitalstate.web.session import (
    RedirectTo,
    current_path,
    end_session,
    local_path,
    session_store,
    signed_in,
    start_session,
)
from digitalstate.web.session_store import KIND_STAFF

STAFF_ZONE = "staff"
HOME_PATH = "/staff"
SIGN_IN_PATH = "/staff/sign-in"
SIGN_OUT_PATH = "/staff/sign-out"
_UNCHECKED = object()
STAFF_LINKS = "staff_links"  # app.state: the links of the staff home page, as features add them


class StaffRoleError(Exception):
    """A member of staff asked for a page their role does not allow (answered 403)."""

    def __init__(self, staff: StaffMember, needed: str) -> None:
        super().__init__(f"{staff.role} may not do what needs {needed}")
        self.staff = staff
        self.needed = needed


def in_zone(path: str) -> bool:
    """True for /staff and the paths under it."""
    return path == HOME_PATH or path.startswith(HOME_PATH + "/")


def staff_next(value: str | None) -> str:
    """value when it is a staff page of this node (to go to after signing in), else /staff."""
    path = local_path(value, HOME_PATH)
    return path if in_zone(urlsplit(path).path) else HOME_PATH


def sign_in_url(next_path: str) -> str:
    """The staff sign-in page, coming back to next_path afterwards."""
    return f"{SIGN_IN_PATH}?next={quote(next_path, safe='')}"


def current_staff(request: Request) -> StaffMember | None:
    """The member of staff this request's staff session is for, or None (blocking: DB reads).

    None too when their account has been disabled since they signed in. Read once a request.
    """
    cached: Any = getattr(request.state, "staff", _UNCHECKED)
    if cached is not _UNCHECKED:
        return cached if isinstance(cached, StaffMember) else None
    if not in_zone(request.url.path):
        raise RuntimeError(f"{request.url.path}: staff pages live under {HOME_PATH}")
    found = signed_in(request)
    staff = None
    if found is not None and found.kind == KIND_STAFF:
        node: NodeRuntime = request.app.state.node
        with node.sessions.begin() as db:
            staff = active_member(db, found.subject)
    request.state.staff = staff
    return staff


def require_staff(role: Role | None = None) -> Callable[[Request], StaffMember]:
    """A FastAPI dependency: the signed-in member of staff, whose role allows role.

    Without a staff session the browser goes to /staff/sign-in?next=<here>; a role that does
    not allow role (a manager may do all a caseworker may) gets a 403 page.
    """

    def staff_signed_in(request: Request) -> StaffMember:
        staff = current_staff(request)
        if staff is None:
            here = current_path(request) if request.method in ("GET", "HEAD") else HOME_PATH
            raise RedirectTo(sign_in_url(here))
        if not may_act_as(staff.role, role):
            assert role is not None
            raise StaffRoleError(staff, role)
        return staff

    return staff_signed_in


ANY_STAFF = require_staff()
"""The dependency of a page for any member of staff (also as a route's first dependency, so
that a POST without a staff session goes to sign in before its CSRF token is checked)."""
StaffSignedIn = Annotated[StaffMember, Depends(ANY_STAFF)]
"""A route parameter: the signed-in member of staff, any role."""


def add_staff_link(app: Any, href: str, text: str) -> None:
    """Show a link to a feature's staff pages (href, under /staff) on the staff home page."""
    links: list[dict[str, str]] = getattr(app.state, STAFF_LINKS, [])
    links.append({"href": href, "text": text})
    setattr(app.state, STAFF_LINKS, links)


def staff_links(request: Request) -> list[dict[str, str]]:
    """The links the staff home page shows."""
    return list(getattr(request.app.state, STAFF_LINKS, []))


def sign_in_staff(request: Request, account_id: str, holder: str) -> None:
    """Start a staff session for account_id (new id, new CSRF token), logged as it starts."""
    store = session_store(request)
    start_session(
        request,
        KIND_STAFF,
        account_id,
        also=lambda db: signed_in_entry(db, account_id, holder=holder, now=store.now()),
    )
    request.state.staff = _UNCHECKED


def sign_out_staff(request: Request, holder: str) -> None:
    """End the staff session for every copy of its cookie; logged when one was live."""
    staff = current_staff(request)
    store = session_store(request)
    if staff is None:
        end_session(request)
    else:
        end_session(
            request,
            also=lambda db: signed_out_entry(db, staff, holder=holder, now=store.now()),
        )
    request.state.staff = None


def render_staff_page(
    templates: Jinja2Templates,
    request: Request,
    node: NodeRuntime,
    staff: StaffMember,
    template: str,
    status: int = 200,
    **context: Any,
) -> Response:
    """A page of staff/ with what every one shows: the node and the member of staff signed in
    (and, from context, the navigation's current `section`)."""
    base = {"node": node.settings.node, "staff": staff}
    return templates.TemplateResponse(
        request, f"staff/{template}.html", base | context, status_code=status
    )
