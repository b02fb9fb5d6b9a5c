"""JSON Web Tokens signed with the nodes' Ed25519 keys (EdDSA, RFC 8037), through joserfc.

Nodes already have Ed25519 keys in the federation document, so ID tokens and client
assertions use them as OKP JWKs and need no key of their own. Only "EdDSA" is accepted: a
token naming any other algorithm, "none" included, is refused before its signature is read.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from digitalstate.keys import KeyPair, PublicKey

ALGORITHM = "EdDSA"


class TokenError(ValueError):
    """A token that cannot be accepted, and why."""


class _EdDSA(EdDSAAlgorithm):
    # RFC 9864 deprecates the name "EdDSA" for the fully specified "Ed25519", and joserfc
    # warns on each use. OpenID Connect providers and relying parties still know EdDSA, and
    # the contract (ADR 0008) names it; the key type pins the curve to Ed25519 here anyway.
    security_warning = None  # type: ignore[assignment]


class _EdDSARegistry(JWSRegistry):
    algorithms = {ALGORITHM: _EdDSA()}
    recommended = [ALGORITHM]


_REGISTRY = _EdDSARegistry(algorithms=[ALGORITHM])


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The OKP JWK of an Ed25519 public key, with its RFC 7638 thumbprint as kid."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(key.raw)}
    return {**jwk, "kid": key_id(key), "use": "sig", "alg": ALGORITHM}


def key_id(key: PublicKey) -> str:
    """The RFC 7638 thumbprint of key: its kid in JWKS and token headers."""
    thumbprint: str = OKPKey.import_key(
        {"kty": "OKP", "crv": "Ed25519", "x": b64url(key.raw)}
    ).thumbprint()
    return thumbprint


def _private_okp(key: KeyPair) -> OKPKey:
    return OKPKey.import_key(
        {"kty": "OKP", "crv": "Ed25519", "d": b64url(key.seed()), "x": b64url(key.public.raw)}
    )


def _public_okp(key: PublicKey) -> OKPKey:
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": b64url(key.raw)})


def sign_token(claims: Mapping[str, Any], key: KeyPair) -> str:
    """A compact JWS (a JWT) of claims, signed with key, its kid in the header."""
    header = {"alg": ALGORITHM, "kid": key_id(key.public)}
    token: str = jwt.encode(header, dict(claims), _private_okp(key), registry=_REGISTRY)
    return token


def token_header(token: str) -> dict[str, Any]:
    """The header of a compact JWS, unverified (to choose a key or report an error)."""
    try:
        encoded = token.split(".")[0]
        decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        header = json.loads(decoded)
    except (ValueError, IndexError) as exc:
        raise TokenError("the token is not a compact JWS") from exc
    if not isinstance(header, dict):
        raise TokenError("the token header is not a JSON object")
    return header


def verify_token(token: str, keys: Iterable[PublicKey]) -> dict[str, Any]:
    """The claims of token when one of keys signed it with EdDSA; raises TokenError."""
    if token_header(token).get("alg") != ALGORITHM:
        raise TokenError(f"the token must be signed with {ALGORITHM}")
    last = "no key to check the signature with"
    for key in keys:
        try:
            claims: dict[str, Any] = jwt.decode(token, _public_okp(key), registry=_REGISTRY).claims
        except JoseError as exc:
            last = exc.description or exc.error
            continue
        except ValueError as exc:  # a malformed payload
            raise TokenError(f"the token cannot be read: {exc}") from exc
        return claims
    raise TokenError(f"the token's signature does not verify ({last})")


def audience_matches(claims: Mapping[str, Any], accepted: Iterable[str]) -> bool:
    """True when the token's aud (a string or a list) names one of accepted."""
    aud = claims.get("aud")
    names = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(isinstance(n, str) and n in set(accepted) for n in names)


def client_assertion(
    client_id: str, key: KeyPair, audience: str, *, lifetime: int = 60, now: float | None = None
) -> str:
    """An RFC 7523 private_key_jwt client assertion: client_id's proof at a token endpoint."""
    issued = int(time.time() if now is None else now)
    return sign_token(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": issued,
            "exp": issued + lifetime,
            "jti": secrets.token_urlsafe(24),
        },
        key,
    )
