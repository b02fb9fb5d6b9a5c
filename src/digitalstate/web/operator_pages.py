"""The operator's sign-in form (/operator/sign-in): trade the operator token for a cookie.

The form is CSRF-protected like every other; it answers only where operator pages answer
(loopback unless [web] operator_remote). The cookie is HttpOnly, SameSite=Strict, Secure on
https, and lasts [web] session_hours; issuing a new token ends every such cookie.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.routing import Router
from digitalstate.settings import NodeSettings
from digitalstate.web.hardening import read_form
from digitalstate.web.i18n import _
from digitalstate.web.operator import (
    SIGN_IN_PATH,
    OperatorGate,
    OperatorOnlyError,
    gate_of,
    make_operator_cookie,
    operator_allowed,
    operator_cookie_name,
    token_matches,
)
from digitalstate.web.operator_token import stored_digest
from digitalstate.web.session import local_path, require_csrf

DEFAULT_NEXT = "/operator/log"


def make_operator_sign_in_router(
    guarded: NodeSettings | OperatorGate, templates: Jinja2Templates, *, default_next: str = ""
) -> APIRouter:
    """GET and POST /operator/sign-in, for a node (its settings) or another server's gate."""
    gate = gate_of(guarded)
    fallback = default_next or DEFAULT_NEXT

    async def from_allowed_address(request: Request) -> None:
        if not operator_allowed(request, gate.remote):
            raise OperatorOnlyError

    router = Router(include_in_schema=False, dependencies=[Depends(from_allowed_address)])

    def form_page(request: Request, next_path: str, error: str, status: int) -> Response:
        return templates.TemplateResponse(
            request,
            "operator_sign_in.html",
            {
                "node": {"id": gate.member_id, "name": gate.name},
                "next": next_path,
                "error": error,
                "issued": stored_digest(gate.data_dir) is not None,
                "sign_in_hint": _(gate.sign_in_hint),
            },
            status_code=status,
        )

    @router.get(SIGN_IN_PATH, response_class=HTMLResponse)
    async def sign_in_form(request: Request, next: str = "") -> Response:
        """The form asking for the operator token."""
        return form_page(request, local_path(next, fallback), "", 200)

    @router.post(SIGN_IN_PATH, dependencies=[Depends(require_csrf)])
    async def sign_in(request: Request) -> Response:
        """Check the token; on success set the operator cookie and go back."""
        form = await read_form(request)
        next_path = local_path(str(form.get("next") or ""), fallback)
        token = str(form.get("token") or "").strip()
        if not token_matches(gate.data_dir, token):
            return form_page(request, next_path, _("Enter the current operator token"), 401)
        seconds = gate.session_seconds
        answer = RedirectResponse(next_path, status_code=303)
        answer.set_cookie(
            operator_cookie_name(gate.member_id),
            make_operator_cookie(gate.data_dir, gate.member_id, seconds),
            max_age=seconds,
            httponly=True,
            samesite="strict",
            secure=gate.secure,
        )
        return answer

    return router
