"""Every node signs people in through the charter: an OpenID Connect relying party.

``/auth/sign-in?next=`` sends the browser to the charter's authorization endpoint with state,
nonce and a PKCE challenge kept in this node's session. ``/auth/callback`` checks the state,
exchanges the code at the charter's token endpoint (authenticating with ``private_key_jwt``
signed by this node's key) and checks the ID token against the charter's key from the
federation document, so no unauthenticated JWKS fetch is needed. The session then holds the
Subject: this node's pseudonym for the person, the level of assurance, and the helper's
pseudonym when a helper signs in for someone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.exchange.bounded import parse_json, read_bounded
from digitalstate.federation.domain import FederationDocument, Member
from digitalstate.identity.oidc import AUTHORIZE_PATH, CALLBACK_PATH, TOKEN_PATH
from digitalstate.identity.tokens import (
    TokenError,
    audience_matches,
    b64url,
    client_assertion,
    verify_token,
)
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.web.i18n import N_, _
from digitalstate.web.session import (
    RedirectTo,
    current_path,
    end_session,
    local_path,
    require_csrf,
    signed_in,
    start_session,
)
from digitalstate.web.session_store import KIND_SUBJECT

SIGN_IN_PATH = "/auth/sign-in"
SIGN_OUT_PATH = "/auth/sign-out"
PENDING_KEY = "oidc_pending"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEEWAY_SECONDS = 30

# POST a form to a URL; answer the status and the JSON body (None when it is not JSON).
TokenPoster = Callable[[str, Mapping[str, str]], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class Subject:
    """Who is signed in on this node: its pseudonym for them, how sure, and any helper."""

    sub: str
    acr: str
    acting_for: str | None = None
    acting_until: datetime | None = None  # when the helper's delegation ends (act_until)


class SignInFailedError(Exception):
    """A sign-in that cannot be completed: what to tell the person, and the reason.

    message is English, marked with N_ where it is written; the page translates it.
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail


def current_subject(request: Request) -> Subject | None:
    """The person signed in on this node through the charter, or None (blocking: a DB read)."""
    found = signed_in(request)
    if found is None or found.kind != KIND_SUBJECT or found.acr is None:
        return None
    return Subject(sub=found.subject, acr=found.acr, acting_for=found.acting_for)


def require_subject(request: Request) -> Subject:
    """FastAPI dependency: the signed-in Subject; others go to /auth/sign-in?next=<here>."""
    subject = current_subject(request)
    if subject is None:
        here = current_path(request) if request.method in ("GET", "HEAD") else "/"
        raise RedirectTo(f"{SIGN_IN_PATH}?next={quote(here, safe='')}")
    return subject


def find_charter(document: FederationDocument) -> Member | None:
    """The federation's charter node: the first unrevoked member with the charter role."""
    return next(
        (m for m in document.members if "charter" in m.roles and m.revoked_at is None), None
    )


MAX_TOKEN_ANSWER_BYTES = 64 * 1024
"""The most of a token endpoint's answer read: an ID token and its fields are a few KiB."""


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


async def post_token_request(
    url: str, form: Mapping[str, str], *, limit: aiohttp.ClientTimeout
) -> tuple[int, Any]:
    """POST form to a token endpoint over aiohttp; raises SignInFailedError when unreachable.

    The answer is read up to MAX_TOKEN_ANSWER_BYTES: one longer, or not JSON, is None.
    """
    try:
        async with (
            aiohttp.ClientSession(timeout=limit) as http,
            http.post(url, data=dict(form), headers={"accept": "application/json"}) as answer,
        ):
            try:  # AnswerTooLargeError is a ValueError
                body = parse_json(await read_bounded(answer, MAX_TOKEN_ANSWER_BYTES))
            except ValueError:
                body = None
            return answer.status, body
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SignInFailedError(
            N_("The sign-in service cannot be reached at the moment."),
            f"token endpoint unreachable: {type(exc).__name__}",
        ) from exc


def check_id_token(
    token: str,
    *,
    document: FederationDocument,
    charter: Member,
    client_id: str,
    nonce: str,
    now: float,
) -> dict[str, Any]:
    """The claims of an ID token signed by the charter's key for this client and nonce."""
    try:
        keys = document.keys_for(charter.id, int(now))
        claims = verify_token(token, keys)
    except (Problem, TokenError) as exc:
        raise SignInFailedError(_NOT_PROVEN, f"id_token refused: {exc}") from exc
    if claims.get("iss") != charter.base_url:
        raise SignInFailedError(_NOT_PROVEN, "id_token refused: wrong issuer")
    if not audience_matches(claims, [client_id]):
        raise SignInFailedError(_NOT_PROVEN, "id_token refused: not for this service")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp < now - LEEWAY_SECONDS:
        raise SignInFailedError(_NOT_PROVEN, "id_token refused: expired")
    if not isinstance(iat, int | float) or iat > now + LEEWAY_SECONDS:
        raise SignInFailedError(_NOT_PROVEN, "id_token refused: issued in the future")
    sent = claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise SignInFailedError(_NOT_PROVEN, "id_token refused: nonce mismatch")
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("acr"), str):
        raise SignInFailedError(_NOT_PROVEN, "id_token refused: no sub or acr")
    return claims


_NOT_PROVEN = N_(
    "The sign-in service's answer could not be checked, so you have not been signed in."
)


def subject_from_claims(claims: Mapping[str, Any]) -> Subject:
    """The Subject an ID token names, with the end of a helper's delegation when given."""
    act = claims.get("act")
    helper = act.get("sub") if isinstance(act, dict) else None
    if not isinstance(helper, str):
        return Subject(sub=claims["sub"], acr=claims["acr"])
    ends = _act_until(claims.get("act_until"))
    return Subject(sub=claims["sub"], acr=claims["acr"], acting_for=helper, acting_until=ends)


def _act_until(value: Any) -> datetime | None:
    if value is None:  # a charter from before act_until: the acting lifetime still bounds it
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise SignInFailedError(_NOT_PROVEN, "id_token refused: act_until is not a time")


class _SignIn:
    """This node's side of a sign-in: the redirect out and the callback in."""

    def __init__(self, node: NodeRuntime) -> None:
        self.node = node
        self.member_id = node.settings.node.id
        self.redirect_uri = node.settings.node.base_url + CALLBACK_PATH

    def charter(self) -> tuple[FederationDocument, Member]:
        """The current federation document and its charter; SignInFailedError without."""
        try:
            document = self.node.keeper.current()
        except Problem as exc:
            raise SignInFailedError(
                N_("Signing in is not available at the moment."), f"{exc.slug}: {exc.detail}"
            ) from exc
        charter = find_charter(document)
        if charter is None:
            raise SignInFailedError(
                N_("Signing in is not available at the moment."), "the federation has no charter"
            )
        return document, charter

    def start(self, request: Request, next_path: str) -> str:
        """Keep state, nonce and PKCE verifier in the session; the charter URL to go to."""
        _document, charter = self.charter()
        pending = {
            "state": secrets.token_urlsafe(32),
            "nonce": secrets.token_urlsafe(32),
            "verifier": secrets.token_urlsafe(48),
            "next": next_path,
        }
        request.session[PENDING_KEY] = pending
        params = {
            "response_type": "code",
            "client_id": self.member_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "state": pending["state"],
            "nonce": pending["nonce"],
            "code_challenge": pkce_challenge(pending["verifier"]),
            "code_challenge_method": "S256",
        }
        return charter.base_url + AUTHORIZE_PATH + "?" + urlencode(params)

    async def finish(
        self, request: Request, params: Mapping[str, str], post: TokenPoster
    ) -> tuple[Subject, str]:
        """Check the callback and the ID token; the Subject and where to go next."""
        pending = request.session.pop(PENDING_KEY, None)
        state = params.get("state", "")
        if not isinstance(pending, dict) or not hmac.compare_digest(
            str(pending.get("state", "")).encode(), state.encode()
        ):
            raise SignInFailedError(
                N_("This sign-in was not started here, or it has already been used."),
                "state mismatch",
            )
        if "error" in params:
            raise SignInFailedError(_refusal(params["error"]), f"charter said {params['error']}")
        if not params.get("code"):
            raise SignInFailedError(_NOT_PROVEN, "no code in the callback")
        document, charter = self.charter()
        endpoint = charter.base_url + TOKEN_PATH
        status, body = await post(endpoint, self.token_form(params["code"], pending, endpoint))
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise SignInFailedError(_NOT_PROVEN, f"token endpoint answered {status} {error or ''}")
        claims = check_id_token(
            body["id_token"],
            document=document,
            charter=charter,
            client_id=self.member_id,
            nonce=str(pending.get("nonce", "")),
            now=time.time(),
        )
        return subject_from_claims(claims), local_path(str(pending.get("next", "/")))

    def token_form(self, code: str, pending: Mapping[str, Any], endpoint: str) -> dict[str, str]:
        """The token request for code, with this node's private_key_jwt assertion."""
        return {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": str(pending.get("verifier", "")),
            "client_id": self.member_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(self.member_id, self.node.key, endpoint),
        }


def _refusal(error: str) -> str:
    if error == "access_denied":
        return N_("You chose not to sign in.")
    if error == "login_required":
        return N_("You need to sign in to use this service.")
    return N_("The sign-in service could not sign you in.")


class _RelyingPartyPages:
    """The route functions of /auth/... over one node and its templates."""

    def __init__(self, node: NodeRuntime, templates: Jinja2Templates) -> None:
        self.flow = _SignIn(node)
        self.templates = templates
        self.service = node.settings.node

    async def sign_in(self, request: Request, next: str = "/") -> Response:
        """Send the browser to the charter to sign in, coming back to next."""
        try:
            return RedirectResponse(self.flow.start(request, local_path(next)), status_code=303)
        except SignInFailedError as exc:
            return self.failed(request, exc)

    async def callback(self, request: Request) -> Response:
        """The charter's answer: check it, sign the person in here and go on."""
        post: TokenPoster = request.app.state.oidc_token_poster
        try:
            subject, next_path = await self.flow.finish(request, dict(request.query_params), post)
        except SignInFailedError as exc:
            return self.failed(request, exc)
        await run_blocking(
            partial(
                start_session,
                request,
                KIND_SUBJECT,
                subject.sub,
                acr=subject.acr,
                act=subject.acting_for,
                act_until=subject.acting_until,
            )
        )
        return RedirectResponse(next_path, status_code=303)

    async def sign_out(self, request: Request) -> Response:
        """Sign out of this node, for every copy of the session's cookie."""
        await run_blocking(end_session, request)
        return self.templates.TemplateResponse(
            request, "identity/signed_out.html", {"node": self.service, "again": None}
        )

    def failed(self, request: Request, exc: SignInFailedError) -> Response:
        """A page saying why the person has not been signed in."""
        return self.templates.TemplateResponse(
            request,
            "identity/problem.html",
            {
                "node": self.service,
                "title": _("You have not been signed in"),
                "message": _(exc.message),
                "advice": _("You can try again."),
                "detail": exc.detail,
                "link": {"href": SIGN_IN_PATH, "text": _("Sign in again")},
            },
            status_code=400,
        )


def make_relying_party_router(node: NodeRuntime, templates: Jinja2Templates) -> APIRouter:
    """/auth/sign-in, /auth/callback and /auth/sign-out on every node."""
    pages = _RelyingPartyPages(node, templates)
    router = Router(include_in_schema=False, default_response_class=HTMLResponse)
    router.add_api_route(SIGN_IN_PATH, pages.sign_in, methods=["GET"])
    router.add_api_route(CALLBACK_PATH, pages.callback, methods=["GET"])
    router.add_api_route(
        SIGN_OUT_PATH, pages.sign_out, methods=["POST"], dependencies=[Depends(require_csrf)]
    )
    return router


def default_token_poster(node: NodeRuntime) -> TokenPoster:
    """post_token_request with the node's outgoing-call timeout."""
    limit = aiohttp.ClientTimeout(total=node.settings.exchange.client_timeout_seconds)

    async def post(url: str, form: Mapping[str, str]) -> tuple[int, Any]:
        return await post_token_request(url, form, limit=limit)

    return post
