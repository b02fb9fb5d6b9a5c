"""Who may use a node's operator pages (/operator/...) and /metrics (docs/adr/0011).

Two conditions, both needed:

1. the request comes from a loopback address, unless [web] operator_remote is on; from
   elsewhere it gets a 403 page saying why;
2. it carries the operator credential: the token that ``digitalstate node operator-token``
   issued (only its SHA-256 is kept, in ``data_dir/operator-token.sha256``), either as
   ``Authorization: Bearer <token>`` (Prometheus) or as the operator cookie that the sign-in
   form at /operator/sign-in sets for a browser. Without it a page sends the browser to that
   form and /metrics answers 401 ``operator-credential-missing``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from digitalstate.node.runtime import is_loopback
from digitalstate.problems import Problem
from digitalstate.settings import NodeSettings
from digitalstate.web.i18n import N_, _
from digitalstate.web.operator_token import stored_digest, token_digest
from digitalstate.web.problem_handlers import problem_response

SIGN_IN_PATH = "/operator/sign-in"
NODE_SIGN_IN_HINT = N_(
    "It was shown once when it was issued with 'digitalstate node operator-token'; on the "
    "node's machine, run 'digitalstate node operator-token --config node.toml' for a new one."
)


@dataclass(frozen=True)
class OperatorGate:
    """What guards one server's operator pages: a node's, or another server's (a mail catcher).

    data_dir keeps the token's hash; member_id names the cookie; name and sign_in_hint are what
    the sign-in form shows; remote: answer from any address, not only loopback.
    """

    data_dir: Path
    member_id: str
    name: str
    remote: bool
    session_seconds: int
    secure: bool
    sign_in_hint: str


def node_gate(settings: NodeSettings) -> OperatorGate:
    """The gate of a node's operator pages, from its settings."""
    return OperatorGate(
        data_dir=settings.data_dir,
        member_id=settings.node.id,
        name=settings.node.name,
        remote=settings.web.operator_remote,
        session_seconds=max(60, int(settings.web.session_hours * 3600)),
        secure=settings.node.base_url.startswith("https://"),
        sign_in_hint=NODE_SIGN_IN_HINT,
    )


def gate_of(guarded: NodeSettings | OperatorGate) -> OperatorGate:
    """guarded's gate: itself, or the gate of the node whose settings it is."""
    return guarded if isinstance(guarded, OperatorGate) else node_gate(guarded)


class OperatorOnlyError(Exception):
    """An operator page asked for from an address that may not use it."""


class OperatorSignInRequiredError(Exception):
    """An operator page asked for without the operator credential: show the sign-in form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def operator_allowed(request: Request, remote: bool) -> bool:
    """True when the request may use operator pages: from loopback, or remote is allowed."""
    host = request.client.host if request.client is not None else ""
    return remote or from_loopback(host)


def from_loopback(host: str) -> bool:
    """True for a loopback address, also in IPv4-mapped IPv6 form (a dual-stack listener)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return is_loopback(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def token_matches(data_dir: Path, token: str) -> bool:
    """True when token is the node's current operator token (compared in constant time)."""
    digest = stored_digest(data_dir)
    if digest is None or not token:
        return False
    return hmac.compare_digest(digest, token_digest(token))


def operator_cookie_name(member_id: str) -> str:
    """The cookie the operator sign-in sets (apart from people's session cookie)."""
    return f"ds-{member_id}-operator"


def _cookie_mac(digest: str, member_id: str, expires: int) -> str:
    message = f"{member_id}:{expires}".encode()
    return hmac.new(bytes.fromhex(digest), message, hashlib.sha256).hexdigest()


def make_operator_cookie(data_dir: Path, member_id: str, seconds: int) -> str:
    """A cookie value that proves a sign-in with the current token until it expires."""
    digest = stored_digest(data_dir)
    if digest is None:
        raise ValueError("no operator token has been issued")
    expires = int(time.time()) + seconds
    return f"{expires}.{_cookie_mac(digest, member_id, expires)}"


def cookie_valid(data_dir: Path, member_id: str, value: str) -> bool:
    """True for an unexpired cookie made under the current token (a new token ends it)."""
    digest = stored_digest(data_dir)
    expires, _, mac = value.partition(".")
    if digest is None or not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(mac, _cookie_mac(digest, member_id, int(expires)))


def has_credential(request: Request, guarded: NodeSettings | OperatorGate) -> bool:
    """True when the request carries the operator token or a valid operator cookie."""
    gate = gate_of(guarded)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return token_matches(gate.data_dir, token.strip())
    cookie = request.cookies.get(operator_cookie_name(gate.member_id), "")
    return bool(cookie) and cookie_valid(gate.data_dir, gate.member_id, cookie)


def metrics_refusal(request: Request, guarded: NodeSettings | OperatorGate) -> Response | None:
    """None when /metrics (or another machine's operator route) may answer; else the 401 problem.

    From an address that may not use operator pages at all, the 403 page (OperatorOnlyError).
    """
    gate = gate_of(guarded)
    if not operator_allowed(request, gate.remote):
        raise OperatorOnlyError
    if has_credential(request, gate):
        return None
    problem = Problem(
        "operator-credential-missing",
        f"send the operator token as 'Authorization: Bearer <token>'. {gate.sign_in_hint}",
    )
    answer = problem_response(problem, request)
    answer.headers["www-authenticate"] = 'Bearer realm="operator"'
    return answer


def operator_only(
    guarded: NodeSettings | OperatorGate,
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that refuses requests that may not use operator pages."""
    gate = gate_of(guarded)

    async def require_operator(request: Request) -> None:
        """Refuse the request unless it may use operator pages and carries the credential."""
        if not operator_allowed(request, gate.remote):
            raise OperatorOnlyError
        if not has_credential(request, gate):
            raise OperatorSignInRequiredError(request.url.path)

    return require_operator


def install_operator_refusal(app: FastAPI, templates: Jinja2Templates) -> None:
    """Answer an operator page asked for from elsewhere with a 403 page saying why."""

    async def refuse(request: Request, _exc: Exception) -> Response:
        """A 403 page saying where the operator pages can be used."""
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "status": 403,
                "title": _("Operator pages are only available on the node's own machine"),
                "detail": _(
                    "Open this page in a browser on the machine the node runs on "
                    "(for example through an SSH tunnel). An operator can also set "
                    "[web] operator_remote = true, but only behind a VPN or a proxy with its own "
                    "sign-in."
                ),
            },
            status_code=403,
        )

    async def sign_in_first(_request: Request, exc: Exception) -> Response:
        """Send the browser to the operator sign-in form, to come back afterwards."""
        assert isinstance(exc, OperatorSignInRequiredError)
        return RedirectResponse(f"{SIGN_IN_PATH}?next={quote(exc.path)}", status_code=303)

    app.add_exception_handler(OperatorOnlyError, refuse)
    app.add_exception_handler(OperatorSignInRequiredError, sign_in_first)
