"""The person's own pages at the charter: account home and the people who can act for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.charter_session import require_person
from digitalstate.identity.service import (
    DELEGATION_SCOPES,
    DelegationError,
    delegations_for,
    delegations_of_helper,
    get_person,
    grant_delegation,
    revoke_delegation,
)
from digitalstate.identity.throttle import failures_before_sign_in
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.web.hardening import form_text, form_texts, read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.session import end_session, require_csrf

HELPERS_PATH = "/my/helpers"
FLASH_KEY = "flash"
LAST_DAY_BOUND = date(2100, 1, 1)
MUST_INCLUDE = {
    "day": N_("The date their help ends must include a day"),
    "month": N_("The date their help ends must include a month"),
    "year": N_("The date their help ends must include a year"),
}


def parse_day(day: str, month: str, year: str) -> tuple[date | None, str | None]:
    """The date typed in a GOV.UK date input, or the message saying what is wrong."""
    parts = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    missing = [name for name, value in parts.items() if not value]
    if len(missing) == 3:
        return None, _("Enter the date their help ends")
    if missing:
        return None, _(MUST_INCLUDE[missing[0]])
    if not all(value.isdigit() for value in parts.values()) or len(parts["year"]) != 4:
        return None, _("The date their help ends must be a real date")
    try:
        day_typed = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except (ValueError, OverflowError):  # a day of 20 digits overflows a C int
        return None, _("The date their help ends must be a real date")
    # Later dates would overflow a datetime (9999-12-31 plus a day); none is meant anyway.
    if day_typed >= LAST_DAY_BOUND:
        return None, _("The date their help ends must be before 1 January 2100")
    return day_typed, None


def end_of_day(day: date) -> datetime:
    """The moment a day ends (UTC): help 'until 27 March' lasts all of 27 March."""
    return datetime.combine(day + timedelta(days=1), time(), UTC)


def pop_flash(request: Request) -> str | None:
    """A confirmation left by the last form, shown once."""
    value = request.session.pop(FLASH_KEY, None)
    return value if isinstance(value, str) else None


class _PersonPages:
    """The route functions of the person's pages over one node and its templates."""

    def __init__(self, node: NodeRuntime, templates: Jinja2Templates) -> None:
        self.node = node
        self.templates = templates
        self.service = node.settings.node

    def account(self, request: Request, person_id: str = Depends(require_person)) -> Response:
        """The person's account home: links to their consents, activity and helpers."""
        with self.node.sessions.begin() as session:
            person = get_person(session, person_id)
            helped = delegations_of_helper(session, person_id, now=datetime.now(UTC))
            failures = failures_before_sign_in(session, person.email) if person else None
        if person is None:  # the account was removed while signed in
            end_session(request)
            return RedirectResponse("/sign-in", status_code=303)
        return self.templates.TemplateResponse(
            request,
            "identity/account.html",
            {"node": self.service, "person": person, "helped": helped, "failures": failures},
        )

    def helpers(self, request: Request, person_id: str = Depends(require_person)) -> Response:
        """The people who can act for this person, and a form to add one."""
        return self.helpers_page(request, person_id)

    async def add_helper(
        self,
        request: Request,
        person_id: Annotated[str, Depends(require_person)],
    ) -> Response:
        """Let someone act for this person; say what is wrong, or confirm."""
        sent = await read_form(request)
        form = {
            "email": form_text(sent, "email"),
            "scope": form_texts(sent, "scope"),
            "day": form_text(sent, "expires-day"),
            "month": form_text(sent, "expires-month"),
            "year": form_text(sent, "expires-year"),
        }
        return await run_blocking(self.save_helper, request, person_id, form)

    def revoke_helper(
        self, request: Request, delegation_id: str, person_id: str = Depends(require_person)
    ) -> Response:
        """Stop a helper acting for this person, from the next thing they do."""
        with self.node.sessions.begin() as session:
            delegation = revoke_delegation(
                session, person_id=person_id, delegation_id=delegation_id, now=datetime.now(UTC)
            )
            email = delegation.helper_email if delegation else None
        if email is None:  # not theirs, or not there: say so, the same for both
            return self.helpers_page(request, person_id, status=404)
        # By the email typed, never the account's name: the same whether or not it has one.
        request.session[FLASH_KEY] = _("%(email)s can no longer act for you") % {"email": email}
        return RedirectResponse(HELPERS_PATH, status_code=303)

    def helpers_page(
        self,
        request: Request,
        person_id: str,
        *,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        """The helpers page, with what was typed and what is wrong when shown again."""
        with self.node.sessions.begin() as session:
            entries = delegations_for(session, person_id)
        blank = {"email": "", "scope": [], "day": "", "month": "", "year": ""}
        return self.templates.TemplateResponse(
            request,
            "identity/helpers.html",
            {
                "node": self.service,
                "entries": entries,
                "now": datetime.now(UTC),
                "scopes": DELEGATION_SCOPES,
                "form": form or blank,
                "errors": errors or {},
                "flash": pop_flash(request),
            },
            status_code=status,
        )

    def save_helper(self, request: Request, person_id: str, form: dict[str, Any]) -> Response:
        """Check the form and grant the delegation, or show the page again saying why not."""
        errors: dict[str, str] = {}
        if not form["email"].strip():
            errors["email"] = _("Enter the email address of the person who will help you")
        if not form["scope"]:
            errors["scope"] = _("Select what they can do for you")
        day, problem = parse_day(form["day"], form["month"], form["year"])
        if problem:
            errors["expires"] = problem
        if not errors and day is not None:
            try:
                with self.node.sessions.begin() as session:
                    grant_delegation(
                        session,
                        person_id=person_id,
                        helper_email=form["email"],
                        scope=form["scope"],
                        expires_at=end_of_day(day),
                        now=datetime.now(UTC),
                    )
            except DelegationError as exc:
                errors[exc.field] = exc.message
        if errors:
            return self.helpers_page(request, person_id, form=form, errors=errors, status=400)
        # The same whether or not the email has an account (no enumeration of accounts).
        email = form["email"].strip()
        request.session[FLASH_KEY] = _("If %(email)s has an account, they can now act for you") % {
            "email": email
        }
        return RedirectResponse(HELPERS_PATH, status_code=303)


def make_pages_router(node: NodeRuntime, templates: Jinja2Templates) -> APIRouter:
    """/my and /my/helpers."""
    pages = _PersonPages(node, templates)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    csrf = [Depends(require_csrf)]
    router.add_api_route("/my", pages.account, methods=["GET"])
    router.add_api_route(HELPERS_PATH, pages.helpers, methods=["GET"])
    router.add_api_route(HELPERS_PATH, pages.add_helper, methods=["POST"], dependencies=csrf)
    router.add_api_route(
        HELPERS_PATH + "/{delegation_id}/revoke",
        pages.revoke_helper,
        methods=["POST"],
        dependencies=csrf,
    )
    return router
