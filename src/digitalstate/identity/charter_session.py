"""Sign-in to the charter's own pages: email and password, kept in the charter's session.

The charter needs no OpenID Connect to know who uses its own pages (the person's pages, the
consent screen, the provider's authorization step): they sign in here. Other nodes learn who
someone is only through the provider, as a pseudonym.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.sign_in_form import SignInPages
from digitalstate.identity.throttle import SignInGuard
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.web.session import (
    RedirectTo,
    current_path,
    end_session,
    local_path,
    require_csrf,
    session_store,
    signed_in,
    start_session,
)
from digitalstate.web.session_store import KIND_PERSON

SIGN_IN_PATH = "/sign-in"
SIGN_OUT_EVERYWHERE_PATH = "/my/sign-out-everywhere"
ACCOUNT_PATH = "/my"


def current_person_id(request: Request) -> str | None:
    """The id of the person signed in to the charter's pages, or None (blocking: a DB read)."""
    found = signed_in(request)
    return found.subject if found is not None and found.kind == KIND_PERSON else None


def current_auth_time(request: Request) -> datetime | None:
    """When the signed-in person signed in, or None."""
    found = signed_in(request)
    return found.signed_in_at if found is not None and found.kind == KIND_PERSON else None


def sign_in_url(next_path: str) -> str:
    """The sign-in page, coming back to next_path afterwards."""
    return f"{SIGN_IN_PATH}?next={quote(next_path, safe='')}"


def require_person(request: Request) -> str:
    """FastAPI dependency: the signed-in person's id; others go to /sign-in?next=<here>."""
    person = current_person_id(request)
    if person is None:
        # After signing in the browser comes back with a GET: a form's address would not do.
        here = current_path(request) if request.method in ("GET", "HEAD") else ACCOUNT_PATH
        raise RedirectTo(sign_in_url(here))
    return person


def sign_in(request: Request, person_id: str) -> None:
    """Start a fresh session for person_id (a new id and CSRF token; nothing kept from before)."""
    start_session(request, KIND_PERSON, person_id)


def sign_out(request: Request) -> None:
    """End the session, for every copy of its cookie."""
    end_session(request)


def sign_out_everywhere(request: Request, person_id: str) -> None:
    """End every session of person_id, this one too."""
    session_store(request).end_all(KIND_PERSON, person_id)
    end_session(request)


class _SignOutPages:
    """The route functions of /sign-out and /my/sign-out-everywhere."""

    def __init__(self, pages: SignInPages) -> None:
        self.pages = pages

    async def sign_out_submit(self, request: Request) -> Response:
        """Sign out of the charter's pages."""
        await run_blocking(sign_out, request)
        return self.pages.signed_out(request)

    def sign_out_everywhere_submit(
        self, request: Request, person_id: Annotated[str, Depends(require_person)]
    ) -> Response:
        """Sign the person out on every device and browser, this one too."""
        sign_out_everywhere(request, person_id)
        return self.pages.signed_out(request, everywhere=True)


def make_charter_session_router(
    node: NodeRuntime, templates: Jinja2Templates, guard: SignInGuard
) -> APIRouter:
    """The charter's /sign-in, /sign-out and /my/sign-out-everywhere pages."""
    pages = SignInPages(
        templates,
        node.settings.node,
        node.sessions,
        guard,
        template="identity/sign_in.html",
        sign_in_path=SIGN_IN_PATH,
        next_of=lambda value: local_path(value, ACCOUNT_PATH),
        start=sign_in,
    )
    out = _SignOutPages(pages)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    csrf = [Depends(require_csrf)]
    router.add_api_route(SIGN_IN_PATH, pages.form, methods=["GET"])
    router.add_api_route(SIGN_IN_PATH, pages.submit, methods=["POST"], dependencies=csrf)
    router.add_api_route("/sign-out", out.sign_out_submit, methods=["POST"], dependencies=csrf)
    router.add_api_route(
        SIGN_OUT_EVERYWHERE_PATH,
        out.sign_out_everywhere_submit,
        methods=["POST"],
        dependencies=csrf,
    )
    return router
