"""The charter's OpenID Connect provider, on Authlib's framework-agnostic AuthorizationServer.

Authlib carries the protocol: the authorization request's checks and error redirects, the
code grant, PKCE (RFC 7636), the RFC 7523 client assertion and the ID token hook. This module
fills in what Authlib leaves to its user, exactly as docs/adr/0008 fixes it:

- clients are the federation's current members; a member's only redirect URI is
  ``<base_url>/auth/callback``; it authenticates at the token endpoint with ``private_key_jwt``
  signed by its Ed25519 node key, checked against the federation document;
- PKCE with S256, ``state`` and ``nonce`` are required;
- codes live 60 s in ``oidc_codes`` and are spent on first use, even a failed one;
- a client assertion's ``jti`` is used once: kept in ``oidc_used_assertions`` until the
  assertion expires, so a replay to another worker is refused too (docs/adr/0023);
- ID tokens carry the pairwise pseudonym as ``sub``, ``acr`` from the level of assurance and,
  when a helper signs in for someone, ``act`` with the helper's pseudonym.

Requests reach Authlib through ``CharterRequest``, a small adapter over values the web layer
has already read (Starlette reads forms asynchronously, Authlib is synchronous).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    AuthorizationCodeGrant,
    AuthorizationCodeMixin,
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oidc.core.grants import OpenIDCode  # type: ignore[import-untyped]
from sqlalchemy.exc import IntegrityError
from starlette.responses import JSONResponse, Response

from digitalstate.federation.domain import Member
from digitalstate.identity.codes import (
    ID_TOKEN_SECONDS,
    first_use_of_assertion,
    forget_code,
    id_token_claims,
    nonce_in_use,
    spend_code,
    store_code,
)
from digitalstate.identity.models import AuthorizationCode
from digitalstate.identity.service import SIGN_IN_SCOPE, active_delegation
from digitalstate.identity.tokens import TokenError, sign_token, verify_token
from digitalstate.keys import PublicKey
from digitalstate.node.runtime import NodeRuntime
from digitalstate.problems import Problem

CALLBACK_PATH = "/auth/callback"
DISCOVERY_PATH = "/.well-known/openid-configuration"
AUTHORIZE_PATH = "/oidc/authorize"
TOKEN_PATH = "/oidc/token"  # noqa: S105 - a path, not a secret
JWKS_PATH = "/oidc/jwks"
PRIVATE_KEY_JWT = "private_key_jwt"
SCOPES = ("openid",)
ASSERTION_MAX_SECONDS = 300
ASSERTION_LEEWAY_SECONDS = 30


def oauth_description(text: str) -> str:
    """text fit for an OAuth error_description (RFC 6749 5.2: printable ASCII but " and \\)."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


# The parameters Authlib puts into error descriptions (which may not hold a quote or backslash).
ECHOED_PARAMETERS = frozenset({"response_type", "redirect_uri", "grant_type"})


def unfit_parameter(items: Iterable[tuple[str, str]]) -> bool:
    """True when a parameter holds what OAuth's syntax does not (RFC 6749 appendix A).

    Checked before Authlib reads a request: it puts some values (response_type, redirect_uri)
    into its error descriptions, and raises on characters a description may not hold.
    """
    for name, value in items:
        if not all(" " <= c <= "~" for c in value):
            return True
        if name in ECHOED_PARAMETERS and oauth_description(value) != value:
            return True
    return False


class RedirectUriRefusedError(InvalidRequestError):  # type: ignore[misc]
    """The redirect URI is missing or not the client's: answered with a page, never followed."""


def redirect_uri_of(member: Member) -> str:
    """The one redirect URI a member may use: its base URL's /auth/callback."""
    return member.base_url + CALLBACK_PATH


@dataclass(frozen=True)
class MemberClient(ClientMixin):  # type: ignore[misc]
    """A federation member as an OAuth client: its id, callback and current keys."""

    member: Member
    keys: tuple[PublicKey, ...]

    def get_client_id(self) -> str:
        """The member id."""
        return self.member.id

    def get_default_redirect_uri(self) -> str:
        """The member's callback (a request must still name it)."""
        return redirect_uri_of(self.member)

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scopes granted: openid must be asked for; unknown scopes are dropped."""
        asked = scope_to_list(scope) or []
        if "openid" not in asked:
            return None
        return " ".join(s for s in SCOPES if s in asked)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """True only for <base_url>/auth/callback, exactly."""
        return redirect_uri == redirect_uri_of(self.member)

    def check_client_secret(self, client_secret: str) -> bool:
        """Members have no secrets: they sign."""
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Only private_key_jwt, at the token endpoint."""
        return method == PRIVATE_KEY_JWT and endpoint == "token"

    def check_response_type(self, response_type: str) -> bool:
        """Only the authorization code flow."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Only authorization_code (no refresh tokens)."""
        return grant_type == "authorization_code"


@dataclass(frozen=True)
class SignedInUser:
    """Whom a code is for: the person, and the helper signing in for them (or None)."""

    person_id: str
    helper_id: str | None
    auth_time: datetime
    acting_until: datetime | None = None  # the delegation's end, read when the token is issued


@dataclass(frozen=True)
class IssuedCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """An authorization code as read back from oidc_codes."""

    code: str
    client_id: str
    user: SignedInUser
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    code_challenge_method: str

    @classmethod
    def from_row(cls, row: AuthorizationCode) -> IssuedCode:
        """From the table's row; acting_for holds the helper (Subject.acting_for's sense)."""
        user = SignedInUser(row.person_id, row.acting_for, row.auth_time)
        return cls(
            code=row.code,
            client_id=row.client_id,
            user=user,
            redirect_uri=row.redirect_uri,
            scope=row.scope,
            nonce=row.nonce,
            code_challenge=row.code_challenge,
            code_challenge_method=row.code_challenge_method,
        )

    def get_redirect_uri(self) -> str:
        """The redirect URI the code was issued for."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The scope granted."""
        return self.scope

    def get_nonce(self) -> str:
        """The relying party's nonce, echoed in the ID token."""
        return self.nonce

    def get_auth_time(self) -> int:
        """When the person signed in at the charter."""
        return int(self.user.auth_time.timestamp())


class CharterRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth request made of values already read from a Starlette request."""

    def __init__(
        self,
        method: str,
        uri: str,
        items: Iterable[tuple[str, str]],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(method, uri, headers=dict(headers or {}))
        self._datalist: dict[str, list[str]] = {}
        for name, value in items:
            self._datalist.setdefault(name, []).append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}
        self.payload = _Payload(self._data, self._datalist)

    @property
    def args(self) -> dict[str, str]:
        """The parameters (query or form: Authlib reads both)."""
        return self._data

    @property
    def form(self) -> dict[str, str]:
        """The parameters (query or form: Authlib reads both)."""
        return self._data


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data = data
        self._datalist = datalist

    @property
    def data(self) -> dict[str, str]:
        """Each parameter's first value."""
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        """Every value of each parameter (to refuse repeated ones)."""
        return self._datalist


class MemberAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """private_key_jwt (RFC 7523 §2.2): an EdDSA JWT signed by the member's node key."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, server: CharterServer) -> None:
        super().__init__(validate_jti=True, leeway=ASSERTION_LEEWAY_SECONDS)
        self.server = server

    def get_audiences(self) -> list[str]:
        """The token endpoint's URL, or the issuer."""
        return [self.server.token_endpoint, self.server.issuer]

    def resolve_client_public_key(self, client: MemberClient) -> tuple[PublicKey, ...]:
        """The member's keys valid now, from the federation document."""
        return client.keys

    def process_assertion_claims(self, assertion: str, keys: tuple[PublicKey, ...]) -> Any:
        """Verify the assertion's EdDSA signature, then its claims."""
        try:
            claims = verify_token(assertion, keys)
        except TokenError as exc:
            refused = f"Client assertion refused: {exc}."
            raise InvalidClientError(description=oauth_description(refused)) from exc
        self.verify_claims(claims)
        return claims

    def verify_claims(self, claims: Any) -> None:
        """Authlib's checks (iss = sub, aud, exp, jti), and a lifetime of at most 5 minutes."""
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp - self.server.clock() > (
            ASSERTION_MAX_SECONDS + ASSERTION_LEEWAY_SECONDS
        ):
            raise InvalidClientError(
                description=f"A client assertion may live at most {ASSERTION_MAX_SECONDS} s."
            )
        super().verify_claims(claims)

    def validate_jti(self, claims: Any, jti: Any) -> bool:
        """False when this client used jti before (at any worker, until the assertion expires)."""
        if not isinstance(jti, str) or not jti:
            return False
        return self.server.first_use_of_assertion(claims["sub"], jti, claims["exp"])


class RequiredS256(CodeChallenge):  # type: ignore[misc]
    """PKCE is required, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """Refuse an authorization request without an S256 code challenge."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE with S256 is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("The 'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class CharterCodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant, its codes kept in oidc_codes."""

    TOKEN_ENDPOINT_AUTH_METHODS = [PRIVATE_KEY_JWT]
    server: CharterServer

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: MemberClient) -> str:
        """The redirect URI must be given and be the member's callback, else no redirect."""
        uri = request.payload.redirect_uri
        if not uri:
            raise RedirectUriRefusedError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(uri):
            # Not echoed: it is the caller's text, and a description must be plain ASCII.
            raise RedirectUriRefusedError("The redirect URI is not the callback of this client.")
        return str(uri)

    def validate_authorization_request(self) -> str:
        """Authlib's checks, then state, which the relying party must send."""
        redirect_uri: str = super().validate_authorization_request()
        if not self.request.payload.state:
            raise InvalidRequestError("Missing 'state' in request.", redirect_uri=redirect_uri)
        return redirect_uri

    def validate_token_request(self) -> None:
        """Authlib's checks; a client_id sent alongside must be the authenticated one."""
        super().validate_token_request()
        sent = self.request.form.get("client_id")
        if sent and sent != self.request.client.get_client_id():
            raise InvalidClientError(description="The client_id is not the assertion's subject.")

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Keep a new code for 60 s."""
        user: SignedInUser = request.user
        self.server.save_code(
            AuthorizationCode(
                code=code,
                client_id=request.client.get_client_id(),
                person_id=user.person_id,
                acting_for=user.helper_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=request.payload.data.get("nonce"),
                code_challenge=request.payload.data.get("code_challenge"),
                code_challenge_method=request.payload.data.get("code_challenge_method"),
                auth_time=user.auth_time,
            )
        )

    def query_authorization_code(self, code: str, client: MemberClient) -> IssuedCode | None:
        """The code if it is this client's, unspent and unexpired; it is spent either way."""
        return self.server.spend_code(code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Forget a code once its token is issued."""
        self.server.forget_code(authorization_code.code)

    def authenticate_user(self, authorization_code: IssuedCode) -> SignedInUser:
        """Whom the code was issued for; a helper's delegation is checked again, now."""
        user = authorization_code.user
        if user.helper_id is None:
            return user
        ends = self.server.delegation_end(user.helper_id, user.person_id)
        if ends is None:
            raise InvalidGrantError("The helper may no longer sign in for this person.")
        return replace(user, acting_until=ends)


class CharterOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """OpenID Connect on the code grant: nonce required, ID tokens signed by the node key."""

    def __init__(self, server: CharterServer) -> None:
        super().__init__(require_nonce=True)
        self.server = server

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        """True when this client already used nonce in a live code (a replay)."""
        return self.server.nonce_in_use(request.payload.client_id, nonce)

    def encode_id_token(self, token: Any, request: Any) -> str:
        """The signed ID token of the code being exchanged."""
        code: IssuedCode = request.authorization_code
        return self.server.id_token(code, request.user)


class CharterServer(AuthorizationServer):  # type: ignore[misc]
    """The charter's authorization server over the node's database, key and federation copy."""

    def __init__(self, node: NodeRuntime, clock: Callable[[], float] = time.time) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.node = node
        self.clock = clock
        self.issuer = node.settings.node.base_url
        self.token_endpoint = self.issuer + TOKEN_PATH
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: generate_token(42), expires_generator=ID_TOKEN_SECONDS
            ),
        )
        self.register_client_auth_method(PRIVATE_KEY_JWT, MemberAssertion(self))
        self.register_grant(CharterCodeGrant, [RequiredS256(), CharterOpenIDCode(self)])

    def now(self) -> datetime:
        """The server's clock as an aware datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    # Authlib's hooks ------------------------------------------------------------------------

    def query_client(self, client_id: str) -> MemberClient | None:
        """The current, unrevoked member with this id and its keys valid now, or None."""
        try:
            document = self.node.keeper.current()
        except Problem:
            return None
        member = document.member(client_id) if isinstance(client_id, str) else None
        if member is None:
            return None
        try:
            keys = document.keys_for(client_id, int(self.clock()))
        except Problem:  # revoked, or no key valid now
            return None
        return MemberClient(member, tuple(keys))

    def save_token(self, token: Any, request: Any) -> None:
        """Access tokens are not kept: no endpoint accepts them yet; the ID token is the point."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals."""

    def create_oauth2_request(self, request: Any) -> Any:
        """Requests arrive already adapted (CharterRequest)."""
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        """A Starlette response: JSON for the token endpoint, a redirect for authorization."""
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or b"", status_code=status, headers=dict(headers))

    # Codes and ID tokens ------------------------------------------------------------------

    def save_code(self, row: AuthorizationCode) -> None:
        """Store a new code (it lives CODE_SECONDS).

        Raises InvalidRequestError, as the nonce check does, when another worker made a code
        with the same client and nonce at the same moment (the unique key lets one in).
        """
        try:
            with self.node.sessions.begin() as session:
                store_code(session, row, self.now())
        except IntegrityError:
            if not self.nonce_in_use(row.client_id, row.nonce):
                raise
            raise InvalidRequestError("Replay attack", redirect_uri=row.redirect_uri) from None

    def spend_code(self, code: str, client_id: str) -> IssuedCode | None:
        """The code, spent, when it was unused, unexpired and client_id's."""
        if not isinstance(code, str) or not code:
            return None
        with self.node.sessions.begin() as session:
            row = spend_code(session, code, client_id, self.now())
        return IssuedCode.from_row(row) if row is not None else None

    def forget_code(self, code: str) -> None:
        """Delete a spent code."""
        with self.node.sessions.begin() as session:
            forget_code(session, code)

    def first_use_of_assertion(self, client_id: str, jti: str, exp: Any) -> bool:
        """Keep client_id's jti while its assertion could be accepted; False when kept before.

        Kept until exp plus the leeway Authlib accepts an expired assertion with, so that no
        assertion is accepted twice inside that leeway.
        """
        if not isinstance(exp, int | float):
            return False
        keep_until = int(exp) + ASSERTION_LEEWAY_SECONDS
        with self.node.sessions.begin() as session:
            return first_use_of_assertion(
                session,
                client_id,
                jti,
                keep_until,
                now=int(self.clock()),
                grace=ASSERTION_LEEWAY_SECONDS,
            )

    def nonce_in_use(self, client_id: str, nonce: str) -> bool:
        """True when a code of client_id still carries nonce."""
        with self.node.sessions.begin() as session:
            return nonce_in_use(session, client_id, nonce)

    def delegation_end(self, helper_id: str, person_id: str) -> datetime | None:
        """When the delegation letting helper_id sign in for person_id ends; None if none now."""
        with self.node.sessions.begin() as session:
            delegation = active_delegation(session, helper_id, person_id, SIGN_IN_SCOPE, self.now())
            return delegation.expires_at if delegation is not None else None

    def id_token(self, code: IssuedCode, user: SignedInUser | None = None) -> str:
        """The signed ID token for code (for user, as checked at the token request)."""
        user = user or code.user
        with self.node.sessions.begin() as session:
            claims = id_token_claims(
                session,
                self.node,
                client_id=code.client_id,
                person_id=user.person_id,
                helper_id=user.helper_id,
                nonce=code.nonce,
                auth_time=user.auth_time,
                now=int(self.clock()),
                acting_until=user.acting_until,
            )
        return sign_token(claims, self.node.key)
