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
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.domain import minutes_left
from digitalstate.identity.throttle import (
    Attempt,
    PasswordWorkBusyError,
    SignInGuard,
    check_password,
    client_key,
    lock_on,
)
from digitalstate.node.runtime import NodeRuntime
from digitalstate.storage.threads import run_blocking
from digitalstate.web.hardening import form_text, read_form
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
BAD_COMBINATION = "Enter a correct email address and password"
BUSY_SECONDS = 30


def too_many_attempts(minutes: int) -> str:
    """What a locked sign-in says: how long to wait, the same for every email."""
    return f"Too many attempts. Try again in {minutes} minute{'' if minutes == 1 else 's'}"


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


class _SignInPages:
    """The route functions of /sign-in and /sign-out over one node and its templates."""

    def __init__(self, node: NodeRuntime, templates: Jinja2Templates, guard: SignInGuard) -> None:
        self.node = node
        self.templates = templates
        self.service = node.settings.node
        self.guard = guard

    async def sign_in_page(self, request: Request, next: str = "") -> Response:
        """Ask for an email address and password."""
        return self.page(request, next_path=local_path(next, ACCOUNT_PATH))

    async def sign_in_submit(self, request: Request) -> Response:
        """Check the email address and password; sign in and go on, or say what is wrong."""
        form = await read_form(request)
        email, password = form_text(form, "email"), form_text(form, "password")
        next_path = local_path(form_text(form, "next"), ACCOUNT_PATH)
        errors: dict[str, str] = {}
        if not email.strip():
            errors["email"] = "Enter your email address"
        if not password:
            errors["password"] = "Enter your password"  # noqa: S105 - a message
        status = 400
        if not errors:
            client = client_key(request.client.host if request.client else None)
            try:
                attempt = await self.check(email, password, client)
            except PasswordWorkBusyError:
                return self.busy(request)
            if attempt.person_id is not None:
                await run_blocking(sign_in, request, attempt.person_id)
                return RedirectResponse(next_path, status_code=303)
            errors = {"email": BAD_COMBINATION, "password": BAD_COMBINATION}
            if attempt.locked_until is not None:
                wait = minutes_left(attempt.locked_until, self.guard.clock())
                errors, status = {"email": too_many_attempts(wait)}, 429
        return self.page(request, next_path=next_path, email=email, errors=errors, status=status)

    async def sign_out_submit(self, request: Request) -> Response:
        """Sign out of the charter's pages."""
        await run_blocking(sign_out, request)
        return self.signed_out(request, everywhere=False)

    def sign_out_everywhere_submit(
        self, request: Request, person_id: Annotated[str, Depends(require_person)]
    ) -> Response:
        """Sign the person out on every device and browser, this one too."""
        sign_out_everywhere(request, person_id)
        return self.signed_out(request, everywhere=True)

    def signed_out(self, request: Request, *, everywhere: bool) -> Response:
        """The page saying the person has signed out."""
        return self.templates.TemplateResponse(
            request,
            "identity/signed_out.html",
            {"node": self.service, "again": SIGN_IN_PATH, "everywhere": everywhere},
        )

    async def check(self, email: str, password: str, client: str) -> Attempt:
        """The person with this email and password, or the lock that refused it unchecked.

        The lock is read before waiting for an argon2 slot (a locked guess takes none) and
        again once one is held, so a burst checks at most the slots' worth past the lock.
        Raises PasswordWorkBusyError when no argon2 slot frees up in time.
        """
        sessions = self.node.sessions
        until = await run_blocking(lock_on, self.guard, sessions, email, client)
        if until is not None:
            return Attempt(locked_until=until)
        async with self.guard.password_slot():
            # Again, now that a slot is held: guesses sent together all passed the first look
            # before any of them had failed, and would otherwise all be checked.
            until = await run_blocking(lock_on, self.guard, sessions, email, client)
            if until is not None:
                return Attempt(locked_until=until)
            person_id = await run_blocking(
                check_password, self.guard, sessions, email, password, client
            )
        return Attempt(person_id=person_id)

    def busy(self, request: Request) -> Response:
        """The page for a sign-in that found every password check slot taken (503)."""
        return self.templates.TemplateResponse(
            request,
            "identity/problem.html",
            {
                "node": self.service,
                "title": "Sorry, the service is busy",
                "message": "Too many people are signing in at the moment.",
                "advice": "Try again in a minute.",
                "detail": None,
            },
            status_code=503,
            headers={"Retry-After": str(BUSY_SECONDS)},
        )

    def page(
        self,
        request: Request,
        *,
        next_path: str,
        email: str = "",
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        """The sign-in page, with what was typed and what is wrong when shown again."""
        return self.templates.TemplateResponse(
            request,
            "identity/sign_in.html",
            {"node": self.service, "next": next_path, "email": email, "errors": errors or {}},
            status_code=status,
        )


def make_charter_session_router(
    node: NodeRuntime, templates: Jinja2Templates, guard: SignInGuard
) -> APIRouter:
    """The charter's /sign-in, /sign-out and /my/sign-out-everywhere pages."""
    pages = _SignInPages(node, templates, guard)
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    csrf = [Depends(require_csrf)]
    router.add_api_route(SIGN_IN_PATH, pages.sign_in_page, methods=["GET"])
    router.add_api_route(SIGN_IN_PATH, pages.sign_in_submit, methods=["POST"], dependencies=csrf)
    router.add_api_route("/sign-out", pages.sign_out_submit, methods=["POST"], dependencies=csrf)
    router.add_api_route(
        SIGN_OUT_EVERYWHERE_PATH,
        pages.sign_out_everywhere_submit,
        methods=["POST"],
        dependencies=csrf,
    )
    return router
