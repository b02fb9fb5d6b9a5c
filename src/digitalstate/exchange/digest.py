"""RFC 9530 Content-Digest with sha-256: make one, check one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from digitalstate.exchange.fields import check_field_length, parse_field
from digitalstate.exchange.structured import Item
from digitalstate.problems import Problem

_SINGLE_SHA256 = re.compile(r"sha-256=:([A-Za-z0-9+/]{43}=):")
_EMPTY_SHA256 = hashlib.sha256(b"").digest()
"""The digest of an empty body (every GET), worked out once."""


def _sha256(body: bytes) -> bytes:
    return hashlib.sha256(body).digest() if body else _EMPTY_SHA256


def content_digest(body: bytes) -> str:
    """The Content-Digest header value for body."""
    if not body:
        return _EMPTY_DIGEST
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


_EMPTY_DIGEST = "sha-256=:" + base64.b64encode(_EMPTY_SHA256).decode("ascii") + ":"


def check_content_digest(header: str | None, body: bytes) -> str:
    """Check that header carries the sha-256 digest of body; return the header as received.

    Other algorithms in the dictionary are ignored (RFC 9530 §3 lets a receiver pick the ones
    it supports), but a sha-256 member must be present. The header is read as the RFC 8941
    dictionary it is, strictly: when a key repeats, the last one counts, as every other
    parser of the field will read it.
    """
    if not header:
        raise Problem("digest-missing", "the call has no Content-Digest header")
    check_field_length("Content-Digest", header)
    single = _SINGLE_SHA256.fullmatch(header)
    if single:  # the form every node sends: skip the general dictionary parser
        try:
            received = base64.b64decode(single.group(1), validate=True)
        except ValueError as exc:
            raise Problem("digest-mismatch", "the sha-256 Content-Digest is not base64") from exc
        if not hmac.compare_digest(received, _sha256(body)):
            raise Problem("digest-mismatch", "the body does not match its sha-256 Content-Digest")
        return header
    members = parse_field("Content-Digest", header, "digest-mismatch")
    member = members.get("sha-256")
    if member is None:
        raise Problem("digest-missing", "the Content-Digest header has no sha-256 member")
    if not isinstance(member, Item) or not isinstance(member.value, bytes):
        raise Problem("digest-mismatch", "the sha-256 Content-Digest is not a byte sequence")
    if not hmac.compare_digest(member.value, _sha256(body)):
        raise Problem("digest-mismatch", "the body does not match its sha-256 Content-Digest")
    return header
