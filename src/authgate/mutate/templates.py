"""Per-route identity header templates: compiled at config load, rendered per request.

Contract: `compile_templates({"X-Employee-Id": "{claims.employee_id}"})` parses every
template once and raises `TemplateError(header_name, message)` for an unknown
placeholder, malformed braces, a reserved or invalid header name, or literal text that
is not printable ASCII. `CompiledTemplates.render(identity)` never raises.

Placeholders: user, subject, email (only a verified one), name, username, provider, groups,
roles, acr, amr and `claims.<dotted.path>`; `{{` and `}}` are literal braces. Rendering rules:

* a list joins its items with `,`; a bool or number renders as JSON text (`true`, `42`);
  a mapping renders as compact JSON;
* every substituted value is percent-encoded (see `encode_value`), so no control
  character and no non-ASCII byte reaches the wire; literal template text is checked
  at compile time instead;
* a header whose template names a value the identity does not have (a missing claim,
  no email), or whose rendering is empty, is omitted: a half-filled value such as
  `"Bearer "` is worse for an upstream than no header.

Pure module: no aiohttp, multidict or jwt imports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authgate.identity import Identity
from authgate.mutate.encoding import encode_list, encode_value, normalize_name

Getter = Callable[[Identity], object]

_FIELDS: dict[str, Getter] = {
    "user": lambda i: i.upstream_user,
    "subject": lambda i: i.subject,
    "email": lambda i: i.verified_email,  # never an unverified one (nOAuth)
    "name": lambda i: i.name,
    "username": lambda i: i.username,
    "provider": lambda i: i.provider,
    "groups": lambda i: i.groups,
    "roles": lambda i: i.roles,
    "acr": lambda i: i.acr,
    "amr": lambda i: i.amr,
}
PLACEHOLDERS: frozenset[str] = frozenset(_FIELDS) | {"claims.<path>"}

# `{{`, `}}`, a placeholder, or a lone brace (always an error).
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_CLAIM_PATH = re.compile(r"claims((?:\.[^.\s{}]+)+)")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")

# Names a template may not set: the gateway owns the assertion, the access token,
# framing and routing headers. A template named `Cookie` or `Host` would also make
# the stripper delete the client's own header of that name.
RESERVED_NAMES: frozenset[str] = frozenset(
    {
        "x-authgate-assertion",
        "x-forwarded-access-token",
        "x-request-id",
        "authorization",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
    }
)

_MISSING = object()


class TemplateError(ValueError):
    """A header template that cannot be compiled; `header` is the header name."""

    def __init__(self, header: str, message: str) -> None:
        super().__init__(f"{header}: {message}")
        self.header = header
        self.message = message


@dataclass(frozen=True, slots=True)
class CompiledHeader:
    name: str
    parts: tuple[str | Getter, ...]  # literal text or a value getter
    placeholders: frozenset[str] = frozenset()  # e.g. {"groups", "claims.dept"}

    def render(self, identity: Identity) -> str | None:
        """The header value, or None when it is to be omitted."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            text = _text(part(identity))
            if text is None:
                return None
            out.append(text)
        value = "".join(out).strip(" ")
        return value or None


@dataclass(frozen=True, slots=True)
class CompiledTemplates:
    headers: tuple[CompiledHeader, ...] = ()
    # Sent only in forward-auth answers (a preset's `X-Auth-Request-*`, mutate/presets).
    forward_auth: tuple[CompiledHeader, ...] = ()
    # Names that carry the signed assertion besides X-Authgate-Assertion (a preset's).
    assertion_names: tuple[str, ...] = ()
    # Header names the templates set, raw and normalized: computed once per route so
    # the per-request stripping and overriding are set lookups.
    names: frozenset[str] = field(init=False)
    normalized_names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        every = (*self.headers, *self.forward_auth)
        names = frozenset((*(h.name for h in every), *self.assertion_names))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "normalized_names", frozenset(map(normalize_name, names)))

    def render(self, identity: Identity, *, forward_auth: bool = False) -> list[tuple[str, str]]:
        headers = (*self.headers, *self.forward_auth) if forward_auth else self.headers
        rendered = ((h.name, h.render(identity)) for h in headers)
        return [(name, value) for name, value in rendered if value is not None]

    def using(self, placeholder: str) -> frozenset[str]:
        """Names of the headers whose template uses `{placeholder}`."""
        every = (*self.headers, *self.forward_auth)
        return frozenset(h.name for h in every if placeholder in h.placeholders)


def compile_templates(templates: Mapping[str, str]) -> CompiledTemplates:
    """Compile a route's `headers:` mapping; raise TemplateError on the first bad one."""
    return CompiledTemplates(tuple(_compile_one(n, t) for n, t in templates.items()))


def _compile_one(name: str, template: str) -> CompiledHeader:
    if not _HEADER_NAME.fullmatch(name):
        raise TemplateError(name, "not a header name (letters, digits and '-')")
    if normalize_name(name) in RESERVED_NAMES:
        raise TemplateError(name, "reserved: the gateway sets or owns this header")
    used = frozenset(m.group(1).strip() for m in _TOKEN.finditer(template) if m.group(1))
    return CompiledHeader(name, tuple(_parse(name, template)), used)


def _parse(name: str, template: str) -> list[str | Getter]:
    parts: list[str | Getter] = []
    pos = 0
    for match in _TOKEN.finditer(template):
        parts.append(_literal(name, template[pos : match.start()]))
        parts.append(_token(name, match))
        pos = match.end()
    parts.append(_literal(name, template[pos:]))
    return [p for p in parts if p != ""]


def _token(name: str, match: re.Match[str]) -> str | Getter:
    token = match.group(0)
    if token in ("{{", "}}"):
        return token[0]
    if match.group(1) is None:
        raise TemplateError(name, f"unmatched {token!r} at {match.start()} (write {token * 2})")
    return _getter(name, match.group(1).strip())


def _getter(name: str, placeholder: str) -> Getter:
    if placeholder in _FIELDS:
        return _FIELDS[placeholder]
    claim = _CLAIM_PATH.fullmatch(placeholder)
    if claim:
        path = tuple(claim.group(1)[1:].split("."))
        return lambda identity: _dig(identity.claims, path)
    known = ", ".join(sorted(PLACEHOLDERS))
    raise TemplateError(name, f"unknown placeholder {{{placeholder}}} (known: {known})")


def _literal(name: str, text: str) -> str:
    # Literal text is operator-written: refuse controls and non-ASCII at load time
    # rather than encoding them silently (CWE-113, header splitting).
    if not _PRINTABLE.fullmatch(text):
        raise TemplateError(name, "literal text must be printable ASCII")
    return text


def _dig(claims: Mapping[str, Any], path: tuple[str, ...]) -> object:
    node: object = claims
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _text(value: object) -> str | None:
    """Encoded text for a substituted value; None when the value is missing."""
    if value is _MISSING or value is None:
        return None
    if isinstance(value, (list, tuple)):
        return encode_list(_scalar(v) for v in value)
    return encode_value(_scalar(value))


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    if type(value) is int:  # the common numeric id; bool is not an int here
        return str(value)
    # JSON text for bools, numbers, null and nested objects; `default=str` and
    # `skipkeys` keep rendering total even for values no JSON parser produced.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str, skipkeys=True)
