"""The identity mutator: strip spoofable identity headers, then set the real ones.

Contract (STYLE lesson 3 — a mutator sets or strips headers and never decides):

* `strip_identity_headers(headers, extra_names)` removes, in place, every incoming
  header that an upstream could read as identity: `authgate.mutate.spoofed.IDENTITY`
  (other gateways' headers and the gateway's whole `X-Authgate-` namespace) and the
  route's template names, in every case and `_`/`.` spelling, and returns the names
  it removed. A client-sent `X_Authgate_User` would otherwise impersonate anyone
  (gunicorn#2799; oauth2-proxy GHSA-vjrc-mh2v-45x6 / CVE-2025-64484). The proxy runs
  it (as part of `spoofed.route_strip_set`) on every forwarded request, public
  paths included (oauth2-proxy PR #624).
* `identity_headers(identity, templates, assertion=..., access_token=...)` returns the
  headers to add, values encoded as in `authgate.mutate.encoding` (percent-encoded
  UTF-8; nothing outside printable ASCII reaches the wire). Empty values are omitted.
  A route template with the name of a default header replaces that default (and
  when the template renders nothing, that header is not sent at all).
  The caller passes `access_token` only when the route sets `pass_access_token`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from multidict import CIMultiDict

from authgate.identity import Identity
from authgate.mutate.cookies import strip_cookie
from authgate.mutate.encoding import (
    encode_list,
    encode_value,
    is_token_value,
    normalize_name,
)
from authgate.mutate.spoofed import IDENTITY, HeaderSet, strip
from authgate.mutate.templates import (
    CompiledTemplates,
    TemplateError,
    compile_templates,
)

__all__ = [
    "ACCESS_TOKEN_HEADER",
    "ASSERTION_HEADER",
    "DEFAULT_HEADERS",
    "CompiledTemplates",
    "TemplateError",
    "compile_templates",
    "identity_headers",
    "strip_cookie",
    "strip_identity_headers",
]

USER_HEADER = "X-Authgate-User"
EMAIL_HEADER = "X-Authgate-Email"
NAME_HEADER = "X-Authgate-Name"
GROUPS_HEADER = "X-Authgate-Groups"
ROLES_HEADER = "X-Authgate-Roles"
PROVIDER_HEADER = "X-Authgate-Provider"
ACR_HEADER = "X-Authgate-Acr"
AMR_HEADER = "X-Authgate-Amr"
ASSERTION_HEADER = "X-Authgate-Assertion"
ACCESS_TOKEN_HEADER = "X-Forwarded-Access-Token"

DEFAULT_HEADERS: tuple[str, ...] = (
    USER_HEADER,
    EMAIL_HEADER,
    NAME_HEADER,
    GROUPS_HEADER,
    ROLES_HEADER,
    PROVIDER_HEADER,
    ACR_HEADER,
    AMR_HEADER,
    ASSERTION_HEADER,
    ACCESS_TOKEN_HEADER,
)
_DEFAULT_NAMES = frozenset(normalize_name(n) for n in DEFAULT_HEADERS)


def strip_identity_headers(headers: CIMultiDict[str], extra_names: Iterable[str]) -> tuple[str, ...]:
    """Remove every identity header, whatever its case or `_`/`.`/`-` spelling."""
    return strip(headers, _identity_set(frozenset(extra_names)))


def identity_headers(
    identity: Identity,
    templates: CompiledTemplates,
    *,
    assertion: str | None,
    access_token: str | None,
    forward_auth: bool = False,
) -> list[tuple[str, str]]:
    """Headers to add upstream for `identity` (after `strip_identity_headers`).

    `forward_auth`: for a forward-auth answer, which also carries the templates a
    preset sends only there (oauth2-proxy's `X-Auth-Request-*`).
    """
    # A template named like a default replaces it even when it renders nothing: the
    # operator chose that header's source, so there is no silent fallback.
    out = _defaults(identity, skip=templates.normalized_names)
    out.extend(templates.render(identity, forward_auth=forward_auth))
    out.extend(_credentials(assertion, access_token, templates.assertion_names))
    return out


@lru_cache(maxsize=512)
def _identity_set(extra_names: frozenset[str]) -> HeaderSet:
    return IDENTITY | HeaderSet.of(extra_names)


def _defaults(identity: Identity, *, skip: frozenset[str]) -> list[tuple[str, str]]:
    values = (
        (USER_HEADER, encode_value(identity.upstream_user)),
        (EMAIL_HEADER, encode_value(identity.verified_email or "")),
        (NAME_HEADER, encode_value(identity.name or "")),
        (GROUPS_HEADER, encode_list(identity.groups)),
        (ROLES_HEADER, encode_list(identity.roles)),
        (PROVIDER_HEADER, encode_value(identity.provider)),
        (ACR_HEADER, encode_value(identity.acr or "")),
        (AMR_HEADER, encode_list(identity.amr)),
    )
    if skip and not skip.isdisjoint(_DEFAULT_NAMES):
        return [(n, v) for n, v in values if v and normalize_name(n) not in skip]
    return [(n, v) for n, v in values if v]


def _credentials(
    assertion: str | None, access_token: str | None, assertion_names: tuple[str, ...]
) -> list[tuple[str, str]]:
    # Tokens are sent verbatim, so anything but a printable token is dropped rather
    # than encoded: a mangled token is useless and a raw one could split the request.
    names = (ASSERTION_HEADER, *assertion_names)
    pairs = (*((name, assertion) for name in names), (ACCESS_TOKEN_HEADER, access_token))
    return [(name, value) for name, value in pairs if value and is_token_value(value)]
