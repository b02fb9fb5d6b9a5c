"""The email-and-password sign-in pages: the charter's people (/sign-in) and a node's staff
(/staff/sign-in) both sign in with them.

Reading the form within bounds, checking it through a sign-in guard (locks and argon2 slots,
docs/adr/0014), and what each outcome tells the person: the same words whether or not the
email has an account. Who signs in, and into which session, is the caller's (SignInPages'
verify and start).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.domain import minutes_left
from digitalstate.identity.throttle import (
    PasswordWorkBusyError,
    SignInGuard,
    Verify,
    attempt_sign_in,
    client_key,
    person_with,
)
from digitalstate.settings import NodeSection
from digitalstate.storage.threads import run_blocking
from digitalstate.web.hardening import form_text, read_form
from digitalstate.web.i18n import N_, _, ngettext

BAD_COMBINATION = N_("Enter a correct email address and password")
BUSY_SECONDS = 30


def too_many_attempts(minutes: int) -> str:
    """What a locked sign-in says: how long to wait, the same for every email."""
    return ngettext(
        "Too many attempts. Try again in %(num)d minute",
        "Too many attempts. Try again in %(num)d minutes",
        minutes,
    ) % {"num": minutes}


@dataclass(frozen=True)
class SignInAnswer:
    """What came of a submitted sign-in form.

    account_id is set when it signed in; otherwise errors (field -> message) and status say
    what to show again, or busy that no password check slot freed up in time.
    """

    email: str
    next: str  # the form's next field, as sent: the caller makes it a local path
    account_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400
    busy: bool = False


async def submit_sign_in(
    request: Request,
    guard: SignInGuard,
    sessions: sessionmaker[Session],
    verify: Verify = person_with,
) -> SignInAnswer:
    """Read the sign-in form and check it through guard with verify (in its transaction)."""
    form = await read_form(request)
    email, password = form_text(form, "email"), form_text(form, "password")
    next_path = form_text(form, "next")
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = _("Enter your email address")
    if not password:
        errors["password"] = _("Enter your password")
    if errors:
        return SignInAnswer(email, next_path, errors=errors)
    client = client_key(request.client.host if request.client else None)
    try:
        attempt = await attempt_sign_in(guard, sessions, email, password, client, verify)
    except PasswordWorkBusyError:
        return SignInAnswer(email, next_path, status=503, busy=True)
    if attempt.account_id is not None:
        return SignInAnswer(email, next_path, account_id=attempt.account_id, status=303)
    if attempt.locked_until is not None:
        wait = minutes_left(attempt.locked_until, guard.clock())
        return SignInAnswer(email, next_path, errors={"email": too_many_attempts(wait)}, status=429)
    return SignInAnswer(
        email, next_path, errors={"email": _(BAD_COMBINATION), "password": _(BAD_COMBINATION)}
    )


@dataclass(frozen=True)
class SignInPages:
    """The sign-in page of one kind of account, its answer, and the signed-out page.

    template: the sign-in page's template (context node, next, email, errors); sign_in_path:
    where "Sign in again" leads; next_of: the form's next made a safe local path; start:
    starts the session of an account id (blocking: it runs in the thread pool); verify: the
    check of an email and password in the attempt's transaction.
    """

    templates: Jinja2Templates
    node: NodeSection
    sessions: sessionmaker[Session]
    guard: SignInGuard
    template: str
    sign_in_path: str
    next_of: Callable[[str | None], str]
    start: Callable[[Request, str], None]
    verify: Verify = person_with

    async def form(self, request: Request, next: str = "") -> Response:
        """Ask for an email address and password."""
        return self.page(request, next_path=self.next_of(next))

    async def submit(self, request: Request) -> Response:
        """Check the email address and password; sign in and go on, or say what is wrong."""
        answer = await submit_sign_in(request, self.guard, self.sessions, self.verify)
        next_path = self.next_of(answer.next)
        if answer.busy:
            return self.busy(request)
        if answer.account_id is not None:
            await run_blocking(self.start, request, answer.account_id)
            return RedirectResponse(next_path, status_code=303)
        return self.page(
            request,
            next_path=next_path,
            email=answer.email,
            errors=answer.errors,
            status=answer.status,
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
            self.template,
            {"node": self.node, "next": next_path, "email": email, "errors": errors or {}},
            status_code=status,
        )

    def signed_out(self, request: Request, *, everywhere: bool = False) -> Response:
        """The page saying the person has signed out (everywhere: on every device too)."""
        return self.templates.TemplateResponse(
            request,
            "identity/signed_out.html",
            {"node": self.node, "again": self.sign_in_path, "everywhere": everywhere},
        )

    def busy(self, request: Request) -> Response:
        """The page for a sign-in that found every password check slot taken (503)."""
        return self.templates.TemplateResponse(
            request,
            "identity/problem.html",
            {
                "node": self.node,
                "title": _("Sorry, the service is busy"),
                "message": _("Too many people are signing in at the moment."),
                "advice": _("Try again in a minute."),
                "detail": None,
            },
            status_code=503,
            headers={"Retry-After": str(BUSY_SECONDS)},
        )
