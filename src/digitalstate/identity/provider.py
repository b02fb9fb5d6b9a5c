"""The charter's OpenID Connect routes: discovery, JWKS, authorization and token endpoints.

The protocol work is CharterServer's (identity/oidc.py, on Authlib); these routes read the
request, run the server in the thread pool (it uses the database) and show the pages a person
sees on the way: the sign-in page when they are not signed in, a choice of whom to sign in as
when they help someone, and an error page, never a redirect, when the request names an
unknown client or a redirect URI that is not the client's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    InsecureTransportError,
    InvalidClientError,
    InvalidRequestError,
    OAuth2Error,
)
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from digitalstate.identity.charter_session import (
    current_auth_time,
    current_person_id,
    sign_in_url,
)
from digitalstate.identity.codes import ACR_PREFIX, ID_TOKEN_CLAIMS, LEVELS_OF_ASSURANCE
from digitalstate.identity.oidc import (
    AUTHORIZE_PATH,
    DISCOVERY_PATH,
    JWKS_PATH,
    PRIVATE_KEY_JWT,
    SCOPES,
    TOKEN_PATH,
    CharterRequest,
    CharterServer,
    MemberClient,
    RedirectUriRefusedError,
    SignedInUser,
    unfit_parameter,
)
from digitalstate.identity.service import DelegationEntry, delegations_of_helper, get_person
from digitalstate.identity.tokens import ALGORITHM, public_jwk
from digitalstate.node.runtime import NodeRuntime
from digitalstate.routing import Router
from digitalstate.storage.threads import run_blocking
from digitalstate.web.hardening import read_form
from digitalstate.web.i18n import N_, _
from digitalstate.web.session import CSRF_FIELD, require_csrf

ACT_AS_FIELD = "act_as"
UNFIT = "A parameter holds characters that OAuth does not allow."
CHOOSE_WHO_ERROR = N_("Select who you are signing in as")

Items = list[tuple[str, str]]


def _text_items(pairs: Iterable[tuple[str, Any]], *, drop: Iterable[str] = ()) -> Items:
    dropped = set(drop)
    return [(k, v) for k, v in pairs if isinstance(v, str) and k not in dropped]


class _Flow:
    """One authorization request on its way through the pages (runs in the thread pool)."""

    def __init__(
        self,
        node: NodeRuntime,
        server: CharterServer,
        templates: Jinja2Templates,
        request: Request,
        items: Items,
    ) -> None:
        self.node = node
        self.server = server
        self.templates = templates
        self.request = request
        self.items = items
        # Read in run(), in the thread pool: who is signed in is a database read.
        self.person_id: str | None = None
        self.auth_time: datetime | None = None

    def oauth_request(self) -> CharterRequest:
        """The request as Authlib reads it, its URI at this charter's public address."""
        query = urlencode(self.items)
        uri = self.server.issuer + AUTHORIZE_PATH + (f"?{query}" if query else "")
        return CharterRequest("GET", uri, self.items, dict(self.request.headers))

    def run(self, act_as: str | None) -> Response:
        """Check the request; then sign in, choose whom to sign in as, or issue the code."""
        self.person_id = current_person_id(self.request)
        self.auth_time = current_auth_time(self.request)
        try:
            if unfit_parameter(self.items):
                raise InvalidRequestError(UNFIT)
            oauth = self.oauth_request()
            grant = self.server.get_consent_grant(oauth, end_user=self.person_id)
        except OAuth2Error as error:
            return self.refuse(error)
        if self.person_id is None or self.auth_time is None:
            return RedirectResponse(
                sign_in_url(AUTHORIZE_PATH + "?" + urlencode(self.items)), status_code=303
            )
        choices = self.choices(self.person_id)
        if act_as is None and not choices:
            act_as = "self"
        if act_as == "self":
            user = SignedInUser(self.person_id, None, self.auth_time)
        elif (chosen := next((e for e in choices if e.delegation.id == act_as), None)) is not None:
            # The form names the delegation, never the person's internal id (DESIGN §3).
            user = SignedInUser(chosen.other.id, self.person_id, self.auth_time)
        else:
            problem = CHOOSE_WHO_ERROR if act_as is not None else None
            return self.choose(grant.client, choices, problem)
        response: Response = self.server.create_authorization_response(
            oauth, grant_user=user, grant=grant
        )
        return response

    def choices(self, helper_id: str) -> list[DelegationEntry]:
        """The people helper_id may sign in for now."""
        with self.node.sessions.begin() as session:
            return delegations_of_helper(session, helper_id, scope="sign-in", now=datetime.now(UTC))

    def choose(
        self, client: MemberClient, choices: list[DelegationEntry], error: str | None
    ) -> Response:
        """The page where a helper chooses whom they sign in as."""
        with self.node.sessions.begin() as session:
            person = get_person(session, self.person_id or "")
        return self.templates.TemplateResponse(
            self.request,
            "identity/choose_who.html",
            {
                "node": self.node.settings.node,
                "client": client.member,
                "person": person,
                "choices": choices,
                "params": self.items,
                "error": _(error) if error else None,
            },
            status_code=400 if error else 200,
        )

    def refuse(self, error: OAuth2Error) -> Response:
        """Back to the client with the error when its redirect URI is proven, else a page."""
        if error.redirect_uri:
            response: Response = self.server.handle_error_response(None, error)
            return response
        if isinstance(error, InvalidClientError):
            message = _(
                "The service that sent you here is not a member of this federation, "
                "or is no longer one."
            )
        elif isinstance(error, RedirectUriRefusedError):
            message = _(
                "The service that sent you here asked to send you on to an address that is "
                "not its own. For your safety you have not been sent there."
            )
        elif isinstance(error, InsecureTransportError):
            message = _("Signing in needs a secure (https) connection to this service.")
        else:
            message = _("The service that sent you here made a request that cannot be accepted.")
        return self.templates.TemplateResponse(
            self.request,
            "identity/problem.html",
            {
                "node": self.node.settings.node,
                "title": _("You cannot sign in"),
                "message": message,
                "advice": _(
                    "Go back to the service and try again. If it happens again, "
                    "contact the service."
                ),
                "detail": f"{error.error}: {error.description}",
            },
            status_code=400,
        )


def provider_metadata(issuer: str) -> dict[str, Any]:
    """The OpenID Provider Metadata (discovery document) of the charter at issuer."""
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        # EdDSA alone, though Discovery asks for RS256 too (docs/adr/0009).
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": [PRIVATE_KEY_JWT],
        "token_endpoint_auth_signing_alg_values_supported": [ALGORITHM],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [ACR_PREFIX + level for level in LEVELS_OF_ASSURANCE],
        "claims_supported": list(ID_TOKEN_CLAIMS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }


class _Routes:
    """The provider's route functions over one node, its templates and its server."""

    def __init__(
        self, node: NodeRuntime, templates: Jinja2Templates, server: CharterServer
    ) -> None:
        self.node = node
        self.templates = templates
        self.server = server

    async def discovery(self) -> JSONResponse:
        """The OpenID Provider Metadata of the charter."""
        return JSONResponse(provider_metadata(self.server.issuer))

    async def jwks(self) -> JSONResponse:
        """The public key that signs ID tokens, as a JWK set (OKP, Ed25519)."""
        return JSONResponse({"keys": [public_jwk(self.node.key.public)]})

    async def authorize(self, request: Request) -> Response:
        """Start or continue signing a person in to a member's service."""
        items = list(request.query_params.multi_items())
        flow = _Flow(self.node, self.server, self.templates, request, items)
        return await run_blocking(flow.run, None)

    async def authorize_as(self, request: Request) -> Response:
        """Continue with the helper's choice of whom they sign in as."""
        form = await read_form(request)
        items = _text_items(form.multi_items(), drop=(CSRF_FIELD, ACT_AS_FIELD))
        act_as = form.get(ACT_AS_FIELD)
        flow = _Flow(self.node, self.server, self.templates, request, items)
        chosen = act_as if isinstance(act_as, str) and act_as else ""
        return await run_blocking(flow.run, chosen)

    async def token(self, request: Request) -> Response:
        """Exchange a code for an ID token; the client proves itself with private_key_jwt."""
        form = await read_form(request)
        items = _text_items(form.multi_items())
        headers = dict(request.headers)
        return await run_blocking(self._token, items, headers)

    def _token(self, items: Items, headers: dict[str, str]) -> Response:
        server = self.server
        try:
            if unfit_parameter(items):
                raise InvalidRequestError(UNFIT)
            oauth = CharterRequest("POST", server.token_endpoint, items, headers)
        except OAuth2Error as error:
            refused: Response = server.handle_error_response(None, error)
            return refused
        answer: Response = server.create_token_response(oauth)
        return answer


def make_provider_router(
    node: NodeRuntime, templates: Jinja2Templates, server: CharterServer
) -> APIRouter:
    """The OpenID Connect provider's routes on the charter."""
    routes = _Routes(node, templates, server)
    router = Router(tags=["openid-connect"])
    router.add_api_route(DISCOVERY_PATH, routes.discovery, methods=["GET"])
    router.add_api_route(JWKS_PATH, routes.jwks, methods=["GET"])
    router.add_api_route(
        AUTHORIZE_PATH, routes.authorize, methods=["GET"], response_class=HTMLResponse
    )
    router.add_api_route(
        AUTHORIZE_PATH,
        routes.authorize_as,
        methods=["POST"],
        response_class=HTMLResponse,
        dependencies=[Depends(require_csrf)],
    )
    router.add_api_route(TOKEN_PATH, routes.token, methods=["POST"])
    return router
