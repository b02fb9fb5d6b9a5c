"""RFC 9421 HTTP Message Signatures with Ed25519, for requests and bound responses.

This is the profile the federation uses (docs/exchange.md):

* requests cover ``@method``, ``@target-uri`` and ``content-digest`` (plus the purpose, consent
  and basis headers when a call carries them) with ``created``, ``nonce``, ``keyid`` (the
  member id) and ``alg="ed25519"``;
* responses cover ``@status``, ``content-digest`` and the request's own signature
  (``"signature";req;key="<label>"``, RFC 9421 §2.4), which binds an answer to its question.

The signature base also supports the other request-derived components of RFC 9421 §2.2
(``@authority``, ``@scheme``, ``@path``, ``@query``, ``@request-target``, read from the target
URI) so that signatures from other implementations can be checked; of the component
parameters only ``req`` and ``key`` are supported, and any other is refused.

Everything here is plain computation over strings and bytes: no web framework, no I/O.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from digitalstate.exchange.fields import parse_field, too_large
from digitalstate.exchange.structured import (
    DEFAULT_BOUNDS,
    BareItem,
    InnerList,
    Item,
    Params,
    serialize_bare_item,
    serialize_inner_list,
    serialize_params,
)
from digitalstate.keys import KeyPair, PublicKey, b64encode
from digitalstate.problems import Problem

ALGORITHM = "ed25519"
REQUEST_COMPONENTS: tuple[str, ...] = ("@method", "@target-uri", "content-digest")
RESPONSE_COMPONENTS: tuple[str, ...] = ("@status", "content-digest")
# A call for personal data names its ground in these headers; when present they must be signed.
GROUND_HEADERS: tuple[str, ...] = (
    "digitalstate-purpose",
    "digitalstate-consent",
    "digitalstate-basis",
)


class Component(NamedTuple):
    """A covered component identifier: a name with optional parameters (req, key, ...)."""

    # A named tuple, not a dataclass: components are hashed as cache keys on every call,
    # and a tuple's hash and equality run in C.
    name: str
    params: Params = ()

    def serialize(self) -> str:
        """The identifier as it appears in Signature-Input and the signature base."""
        return _serialize_component(self.name, self.params)

    def param(self, key: str) -> object:
        """The value of one parameter, or None."""
        for k, v in self.params:
            if k == key:
                return v
        return None


@functools.lru_cache(maxsize=1024)
def _serialize_component(name: str, params: Params) -> str:
    return serialize_bare_item(name) + serialize_params(params)


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """What a signature can cover of one HTTP message; header names lower case."""

    headers: Mapping[str, str]
    method: str | None = None
    target_uri: str | None = None
    status: int | None = None
    # Fields that were sent more than once (their values are joined in headers).
    repeated: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Signature:
    """One parsed signature: its label, covered components, parameters and bytes."""

    label: str
    components: tuple[Component, ...]
    params: Params
    value: bytes
    # The exact `@signature-params` value when the header was already in canonical form, so the
    # signature base need not be serialised again (a hot path: every call, both directions).
    serialized_params: str | None = None
    _named: dict[str, BareItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Read four times per check (keyid, created, nonce, alg): a dict, built once.
        object.__setattr__(self, "_named", dict(self.params))

    def param(self, key: str) -> object:
        """The value of one signature parameter, or None."""
        return self._named.get(key)

    @property
    def keyid(self) -> str | None:
        """The signer's key id: the member id in this federation."""
        value = self.param("keyid")
        return value if isinstance(value, str) else None

    @property
    def created(self) -> int | None:
        """The signature's creation time, in Unix seconds."""
        value = self.param("created")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def nonce(self) -> str | None:
        """The signer's nonce, unique for each request."""
        value = self.param("nonce")
        return value if isinstance(value, str) else None

    def covers(self, name: str) -> bool:
        """True when the signature covers the named component without parameters."""
        return (name, ()) in self.components


_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_PORT = re.compile(r"[0-9]*")
# RFC 9421 §2.5: a base line holds no line break, and the base is ASCII (step 4).
_BASE_VALUE = re.compile(r"[\t -~]*")


def _malformed(detail: str) -> Problem:
    return Problem("signature-malformed", detail)


def _split_target_uri(uri: str) -> tuple[str, str, str, str | None]:
    """The scheme, authority, path and query (None when absent) of an absolute target URI."""
    scheme, sep, rest = uri.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise _malformed(f"the target URI {uri!r} is not absolute")
    rest = rest.partition("#")[0]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, rest = rest[:cut], rest[cut:]
    if not authority:
        raise _malformed(f"the target URI {uri!r} has no authority")
    path, has_query, query = rest.partition("?")
    return scheme, authority, path, query if has_query else None


def _normalized_authority(scheme: str, authority: str) -> str:
    """RFC 9421 §2.2.3 with RFC 9110 §4.2.3: lower-case host, no default or empty port."""
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _malformed(f"the authority {authority!r} has an unclosed IP literal")
        host, rest = hostport[: close + 1], hostport[close + 1 :]
    else:
        host, colon, port = hostport.partition(":")
        rest = colon + port
    if rest and not rest.startswith(":"):
        raise _malformed(f"the authority {authority!r} cannot be read")
    port = rest[1:]
    if not host or not _PORT.fullmatch(port):
        raise _malformed(f"the authority {authority!r} cannot be read")
    if port and port.lstrip("0") == _DEFAULT_PORTS.get(scheme.lower()):
        port = ""
    return f"{host.lower()}:{port}" if port else host.lower()


def _uri_component(name: str, target_uri: str) -> str:
    scheme, authority, path, query = _split_target_uri(target_uri)
    if name == "@scheme":
        return scheme.lower()
    if name == "@authority":
        return _normalized_authority(scheme, authority)
    if name == "@path":
        return path or "/"
    if name == "@query":
        return "?" + (query or "")
    # @request-target: the origin form, as an HTTP/1.1 client sends it (RFC 9112 §3.2.1).
    return (path or "/") + ("" if query is None else "?" + query)


_URI_COMPONENTS = frozenset({"@scheme", "@authority", "@path", "@query", "@request-target"})


def _derived(name: str, source: HttpMessage) -> str:
    if name == "@status":
        if source.status is None:
            raise _malformed("@status is only part of a response")
        return str(source.status)
    if name == "@method":
        if source.method is None:
            raise _malformed("@method is not part of a response")
        # RFC 9421 §2.2.1: the method is case-sensitive and is never normalised.
        return source.method
    if name != "@target-uri" and name not in _URI_COMPONENTS:
        raise _malformed(f"derived component {name} is not supported")
    if source.target_uri is None:
        raise _malformed(f"{name} is not part of a response")
    if name == "@target-uri":
        return source.target_uri
    return _uri_component(name, source.target_uri)


def _header(name: str, source: HttpMessage) -> str:
    raw = source.headers.get(name)
    if raw is None:
        raise _malformed(f"the covered header {name!r} is absent")
    # RFC 9421 §2.1: trim leading and trailing OWS (space and tab), nothing else.
    return raw.strip(" \t")


def _member(name: str, key: str, source: HttpMessage) -> str:
    """The serialised value of one member of a dictionary header (the key parameter)."""
    value = _header(name, source)
    single = _FAST_SIGNATURE.fullmatch(value)
    if single is not None:  # a one-member Signature header, as every node sends
        if single.group(1) != key:
            raise _malformed(f"{name} has no member {key!r}")
        return f":{single.group(2)}:"
    members = parse_field(name, value, "signature-malformed")
    member = members.get(str(key))
    if member is None:
        raise _malformed(f"{name} has no member {key!r}")
    if isinstance(member, InnerList):
        return serialize_inner_list(member)
    return serialize_bare_item(member.value) + serialize_params(member.params)


_DERIVED, _HEADER, _MEMBER = 0, 1, 2
Step = tuple[str, int, str, bool, str]
"""How to read one component: identifier, kind, name, from the request?, dictionary key."""


def _step(component: Component) -> Step:
    """Check a component's parameters once and say how to read its value."""
    for key, value in component.params:
        # Only req and key are supported; an unknown parameter would change the value's
        # meaning (sf, bs, tr, name), so it is refused rather than ignored.
        if key == "req" and value is not True:
            raise _malformed("the req parameter must be a true boolean")
        if key == "key" and (component.name.startswith("@") or not isinstance(value, str)):
            raise _malformed("the key parameter must be a string on a header field")
        if key not in ("req", "key"):
            raise _malformed(f"component parameter {key!r} is not supported")
    member = component.param("key")
    kind = _DERIVED if component.name.startswith("@") else _MEMBER if member else _HEADER
    from_request = component.param("req") is True
    return component.serialize(), kind, component.name, from_request, str(member or "")


@functools.lru_cache(maxsize=256)
def _plan(components: tuple[Component, ...]) -> tuple[Step, ...]:
    """How to read each component, checked once per distinct list (cached: lists repeat)."""
    seen: set[tuple[str, frozenset[tuple[str, BareItem]]]] = set()
    for c in components:
        # §2.5 step 2.1: a component identifier (with its parameters) appears only once.
        identity = (c.name, frozenset(c.params))
        if identity in seen:
            raise _malformed(f"the component {c.serialize()} is covered twice")
        seen.add(identity)
    return tuple(_step(c) for c in components)


def _identifiers(components: tuple[Component, ...]) -> tuple[str, ...]:
    """The serialised identifiers of components, refusing one that is covered twice."""
    return tuple(step[0] for step in _plan(components))


def signature_base(
    components: Sequence[Component],
    params: Params,
    message: HttpMessage,
    request: HttpMessage | None = None,
    serialized_params: str | None = None,
) -> bytes:
    """The RFC 9421 §2.5 signature base for message, as bytes to sign or verify.

    serialized_params, when given, must be the canonical serialisation of the components and
    params as an inner list (what parse_signatures records for a canonical header).
    """
    plan = _plan(tuple(components))
    lines: list[str] = []
    for identifier, kind, name, from_request, key in plan:
        source = message
        if from_request:
            if request is None:
                raise _malformed("a ;req component needs the request")
            source = request
        if kind == _HEADER:
            value = _header(name, source)
        elif kind == _MEMBER:
            value = _member(name, key, source)
        else:
            value = _derived(name, source)
        if not _BASE_VALUE.fullmatch(value):
            raise _malformed(f"{name} holds a line break, control or non-ASCII character")
        lines.append(f"{identifier}: {value}")
    if serialized_params is None:
        serialized_params = "(" + " ".join(s[0] for s in plan) + ")" + serialize_params(params)
    lines.append(f'"@signature-params": {serialized_params}')
    return "\n".join(lines).encode("ascii")


_PLAIN_STRING = re.compile(r"[ !#-\[\]-~]*")


def _signing_params(params: Params) -> str:
    """serialize_params for the params sign_message makes, without re-checking known parts."""
    parts: list[str] = []
    for name, value in params:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**15:
            parts.append(f";{name}={value}")
        elif isinstance(value, str) and _PLAIN_STRING.fullmatch(value):
            parts.append(f';{name}="{value}"')
        else:
            parts.append(serialize_params(((name, value),)))  # escapes or refuses the value
    return "".join(parts)


def sign_message(
    message: HttpMessage,
    components: Sequence[Component],
    *,
    key: KeyPair,
    keyid: str,
    created: int,
    nonce: str | None = None,
    label: str = "sig1",
    request: HttpMessage | None = None,
) -> tuple[str, str]:
    """Sign message; return the Signature-Input and Signature header values."""
    params: list[tuple[str, object]] = [("created", created), ("keyid", keyid), ("alg", ALGORITHM)]
    if nonce is not None:
        params.append(("nonce", nonce))
    typed: Params = tuple(params)  # type: ignore[arg-type]
    serialized = "(" + " ".join(_identifiers(tuple(components))) + ")" + _signing_params(typed)
    base = signature_base(components, typed, message, request, serialized)
    value = key.sign(base)
    return f"{label}={serialized}", f"{label}=:{b64encode(value)}:"


_KEY = r"[a-z*][a-z0-9_\-.*]*"
_FAST_INPUT = re.compile(
    rf'({_KEY})=(\([^()]*\))((?:;{_KEY}=(?:"[ !#-\[\]-~]*"|0|-?[1-9][0-9]{{0,14}}))*)'
)
_FAST_PARAM = re.compile(rf';({_KEY})=(?:"([ !#-\[\]-~]*)"|(0|-?[1-9][0-9]{{0,14}}))')
_FAST_SIGNATURE = re.compile(rf"({_KEY})=:([A-Za-z0-9+/]{{86}}==):")


@functools.lru_cache(maxsize=256)
def _covered(inner: str) -> tuple[tuple[Component, ...], bool]:
    """The components of a covered-components list, and whether it was in canonical form."""
    parsed = parse_field("Signature-Input", "x=" + inner, "signature-malformed")["x"]
    if not isinstance(parsed, InnerList):
        raise Problem("signature-malformed", "the covered components are not a list")
    components: list[Component] = []
    for item in parsed.items:
        if not isinstance(item.value, str):
            raise Problem("signature-malformed", "a covered component must be a string")
        components.append(Component(item.value, item.params))
    return tuple(components), serialize_inner_list(parsed) == inner


def _parse_fast(signature_input: str, signature: str) -> Signature | None:
    """One signature in canonical form, parsed with three regular expressions; else None."""
    given = _FAST_INPUT.fullmatch(signature_input)
    value = _FAST_SIGNATURE.fullmatch(signature)
    if given is None or value is None or given.group(1) != value.group(1):
        return None
    components, canonical = _covered(given.group(2))
    params: dict[str, BareItem] = {}
    found = 0
    for match in _FAST_PARAM.finditer(given.group(3)):
        found += 1
        text, number = match.group(2), match.group(3)
        params[match.group(1)] = text if text is not None else int(number)
    if found > DEFAULT_BOUNDS.max_params:  # the same bound as the general parser's
        raise too_large("Signature-Input", f"more than {DEFAULT_BOUNDS.max_params} parameters")
    raw = given.group(2) + given.group(3) if canonical and found == len(params) else None
    return Signature(
        given.group(1),
        components,
        tuple(params.items()),
        base64.b64decode(value.group(2)),
        raw,
    )


def parse_signatures(signature_input: str | None, signature: str | None) -> list[Signature]:
    """Parse the Signature-Input and Signature headers into their signatures."""
    if not signature_input or not signature:
        raise Problem("signature-missing", "the Signature-Input and Signature headers are required")
    fast = _parse_fast(signature_input, signature)
    if fast is not None:
        return [fast]
    inputs = parse_field("Signature-Input", signature_input, "signature-malformed")
    values = parse_field("Signature", signature, "signature-malformed")
    out: list[Signature] = []
    for label, inner in inputs.items():
        if not isinstance(inner, InnerList):
            raise Problem("signature-malformed", f"Signature-Input member {label} is not a list")
        raw = values.get(label)
        if raw is None or not isinstance(raw, Item) or not isinstance(raw.value, bytes):
            raise Problem("signature-malformed", f"Signature has no byte sequence for {label}")
        components: list[Component] = []
        for item in inner.items:
            if not isinstance(item.value, str):
                raise Problem("signature-malformed", "a covered component must be a string")
            components.append(Component(item.value, item.params))
        out.append(Signature(label, tuple(components), inner.params, raw.value))
    if not out:
        raise Problem("signature-missing", "Signature-Input holds no signature")
    return out


def verify_signature(
    sig: Signature,
    message: HttpMessage,
    public_keys: Sequence[PublicKey],
    request: HttpMessage | None = None,
) -> None:
    """Check sig over message with any of public_keys; raise signature-invalid if none."""
    alg = sig.param("alg")
    if alg is not None and alg != ALGORITHM:
        raise Problem("signature-invalid", f"algorithm {alg!r} is not accepted; use ed25519")
    base = signature_base(sig.components, sig.params, message, request, sig.serialized_params)
    if len(sig.value) == 64 and any(k.verify(base, sig.value) for k in public_keys):
        return
    raise Problem(
        "signature-invalid", f"signature {sig.label} does not verify with key {sig.keyid}"
    )


def request_components(headers: Mapping[str, str]) -> tuple[Component, ...]:
    """The components a request of this federation covers, given its headers."""
    return _request_components(tuple(h for h in GROUND_HEADERS if h in headers))


@functools.lru_cache(maxsize=16)
def _request_components(grounds: tuple[str, ...]) -> tuple[Component, ...]:
    return tuple(Component(n) for n in REQUEST_COMPONENTS + grounds)


@functools.lru_cache(maxsize=64)
def response_components(request_label: str) -> tuple[Component, ...]:
    """The components a response covers, bound to the request's signature by label."""
    bound = Component("signature", (("req", True), ("key", request_label)))
    return (*(Component(n) for n in RESPONSE_COMPONENTS), bound)


KeyLookup = Callable[[str, int], Sequence[PublicKey]]
"""The public keys of a key id valid at a time; raises a key-unknown or key-revoked Problem."""
