"""RFC 9457 problem details: one stable type for each way a call can fail, and reading them.

The catalogue below is the single list of problem types; docs/errors.md is checked against it
by a test, so a new type cannot ship undocumented. Problem is what this package raises and
answers with (web/problem_handlers.py renders it); read_problem is the one reader of a problem
document that another server answered with, and failure_reason the one way to say, in a line,
why another server gave no answer at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "urn:digitalstate:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"
MAX_PROBLEM_BYTES = 256 * 1024  # a problem document is a few hundred bytes; read no further
MAX_REASON_CHARS = 200
"""The most of a failure's own text that failure_reason keeps."""


@dataclass(frozen=True)
class ProblemType:
    """A kind of failure: its stable slug, HTTP status and human title."""

    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        """The stable `type` member of the problem document."""
        return PROBLEM_BASE + self.slug


def _catalogue(*types: ProblemType) -> dict[str, ProblemType]:
    return {t.slug: t for t in types}


PROBLEM_TYPES: dict[str, ProblemType] = _catalogue(
    ProblemType("malformed-request", 400, "The request is malformed"),
    ProblemType("malformed-json", 400, "The body is not valid JSON"),
    ProblemType("validation-failed", 422, "The request body does not match the expected schema"),
    ProblemType("body-too-large", 413, "The body is larger than this node accepts"),
    ProblemType("header-too-large", 431, "A header is larger, or holds more, than this node reads"),
    ProblemType("repeated-covered-field", 400, "A signed header field is sent more than once"),
    ProblemType("untrusted-host", 400, "This server does not answer for that host name"),
    ProblemType("operator-credential-missing", 401, "This address needs the node's operator token"),
    ProblemType("sign-in-required", 401, "This address answers only a person signed in here"),
    ProblemType("not-found", 404, "Nothing is found at this address"),
    ProblemType("method-not-allowed", 405, "This address does not accept that method"),
    ProblemType("signature-missing", 401, "The call is not signed"),
    ProblemType("signature-malformed", 401, "The signature headers cannot be read"),
    ProblemType("signature-invalid", 401, "The signature does not verify"),
    ProblemType("digest-missing", 401, "The call carries no Content-Digest"),
    ProblemType("digest-mismatch", 401, "The body does not match its Content-Digest"),
    ProblemType("key-unknown", 401, "The signing key is not in the federation document"),
    ProblemType("key-revoked", 401, "The signing key is revoked or outside its validity period"),
    ProblemType(
        "clock-skew", 401, "The signature's creation time is too far from this node's clock"
    ),
    ProblemType("replayed-nonce", 401, "The signature's nonce was seen before"),
    ProblemType("purpose-missing", 403, "A call for personal data must name a purpose"),
    ProblemType("purpose-unknown", 403, "The purpose is not in the federation's catalogue"),
    ProblemType(
        "legal-ground-missing",
        403,
        "A call for personal data must name a consent or a statutory basis",
    ),
    ProblemType(
        "notice-holder-mismatch",
        403,
        "A change notice must come from the register that holds the consent",
    ),
    ProblemType("consent-refused", 403, "The consent does not allow this read"),
    ProblemType("basis-refused", 403, "The statutory basis does not allow this read"),
    ProblemType("caller-not-allowed", 403, "This member may not make this call"),
    ProblemType("field-not-held", 400, "This register does not hold a field that was asked for"),
    ProblemType("record-not-found", 404, "This register holds no record of the person"),
    ProblemType("consent-request-invalid", 422, "The consent request cannot be made"),
    ProblemType("consent-record-invalid", 422, "The consent record is not acceptable"),
    ProblemType("consent-return-refused", 403, "This consent did not answer this request"),
    ProblemType("subject-unknown", 404, "The charter knows no person by this pseudonym"),
    ProblemType("holder-unreachable", 502, "The register that holds the data could not be reached"),
    ProblemType("federation-unavailable", 503, "This node holds no valid federation document"),
    ProblemType("federation-expired", 503, "This node's federation document has expired"),
    ProblemType("proof-out-of-range", 400, "The tree has no such leaf or size"),
    ProblemType("checkpoint-unavailable", 503, "This node has not yet signed a checkpoint"),
    ProblemType("cosignature-invalid", 422, "The cosignature does not verify for this checkpoint"),
    ProblemType("log-damaged", 500, "The stored log lacks what its signed tree holds"),
    ProblemType("internal-error", 500, "Something went wrong inside this node"),
)


@dataclass
class Problem(Exception):  # noqa: N818 - a problem document, not an error in this node
    """An RFC 9457 problem, raised anywhere and rendered once at the edge."""

    slug: str
    detail: str
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.slug not in PROBLEM_TYPES:
            raise KeyError(f"unknown problem type {self.slug!r}")
        super().__init__(self.detail)

    @property
    def type(self) -> ProblemType:
        """The catalogued type of this problem."""
        return PROBLEM_TYPES[self.slug]

    @property
    def status(self) -> int:
        """The HTTP status this problem is answered with."""
        return PROBLEM_TYPES[self.slug].status

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document as a JSON-ready dict."""
        kind = self.type
        body: dict[str, Any] = {
            "type": kind.uri,
            "title": kind.title,
            "status": kind.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        # Extensions add members; they never replace the standard ones (RFC 9457 §3.2).
        body.update((k, v) for k, v in self.extensions.items() if k not in body)
        return body


@dataclass(frozen=True)
class ReceivedProblem:
    """A problem document another server answered with: as it said, unchecked.

    Its type may be one this package does not know (another version, another server), so it
    is not a Problem. A member that is absent or null is None; any other value is its text.
    """

    type: str | None
    title: str | None
    detail: str | None
    status: int | None
    members: Mapping[str, Any]

    @property
    def slug(self) -> str:
        """The type without this package's URN prefix ("" when it has no type)."""
        return (self.type or "").removeprefix(PROBLEM_BASE)


def read_problem(body: bytes | str, media_type: str | None = None) -> ReceivedProblem | None:
    """The problem document in body, or None when body is not one.

    Outside input: a body larger than MAX_PROBLEM_BYTES, not JSON, or not a JSON object is not
    a problem document. With media_type (the answer's content-type), anything but
    application/problem+json is not one either.
    """
    if media_type is not None and not media_type.startswith(PROBLEM_MEDIA_TYPE):
        return None
    if len(body) > MAX_PROBLEM_BYTES:
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # also not UTF-8, or nested past the parser's depth
        return None
    if not isinstance(value, dict):
        return None
    status = value.get("status")
    return ReceivedProblem(
        type=_text(value.get("type")),
        title=_text(value.get("title")),
        detail=_text(value.get("detail")),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        members=value,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def failure_reason(exc: BaseException) -> str:
    """Why a call to another server failed before it answered, in one short line: the
    exception's type and the start of its text ("timed out" for a time-out that says no more).

    Only the exception's text, never its repr: an HTTP client's repr may carry the request's
    headers, and its text a line of what the other server sent (aiohttp's "Bad status line"),
    which is outside input and is cut at MAX_REASON_CHARS, its line breaks and runs of space
    made one space. An exception whose text cannot be had is named by its type alone.
    """
    try:
        text = " ".join(str(exc).split())
    except Exception:  # a __str__ that fails must not replace the failure being described
        text = ""
    if not text and isinstance(exc, TimeoutError):
        return "timed out"
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
