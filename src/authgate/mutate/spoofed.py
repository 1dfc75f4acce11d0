"""Client headers that must never reach an upstream, in any spelling a server folds.

Contract (pure; STYLE.md lesson 3 — a mutator strips, it never decides):

* Names are compared folded (`normalize_name`: lower-cased, `_` and `.` read as `-`):
  CGI, WSGI and PHP servers turn `X-Forwarded-User`, `X_Forwarded_User` and
  `X.Forwarded.User` into one `HTTP_X_FORWARDED_USER` variable (gunicorn#2799,
  oauth2-proxy GHSA-vjrc-mh2v-45x6 / CVE-2025-64484), so a check on one spelling
  is a check on none.
* A `HeaderSet` is folded names plus folded name prefixes. Three classes are built in:
  - `IDENTITY`: headers other gateways set and apps trust as "who is this"
    (oauth2-proxy, Authelia, Grafana auth proxy, Pomerium, Google IAP, Cloudflare
    Access, AWS ALB, Azure App Service, generic `X-User`...) and the gateway's own
    `X-Authgate-*` namespace. An upstream configured for a stock auth-proxy header
    could otherwise be impersonated by anyone (oauth2-proxy CVE-2025-64484).
  - `FORWARDING`: X-Forwarded-For/-Host/-Proto/-Port/-Prefix, X-Real-IP, Forwarded
    (rebuilt by `authgate.proxy.headers.set_forwarding`) and X-Request-Id (always
    the gateway's own).
  - `OVERRIDES`: URL and method override headers (`X-Original-URL`,
    `X-HTTP-Method-Override`, ...): an upstream that honours them would run
    `/admin` or `DELETE` behind a decision made for a public GET.
  - `TRACE_CONTEXT`: `traceparent`, `tracestate` (W3C Trace Context), kept from a
    trusted proxy only, whether or not the gateway traces (docs/observability.md).
* `route_strip_set(operator_entries, template_names)` is all four plus the
  operator's `server.strip_headers` (a trailing `*` makes a prefix) and the route's
  template header names; compiled once per distinct argument pair.
* `strip(headers, header_set, keep)` removes, in place, every header the set matches
  except those whose lower-cased name is in `keep` — the canonical spelling only,
  so a `_`/`.` spelling is always removed. It returns the removed names as sent,
  lower-cased, deduplicated and sorted (the decision record's `stripped`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from authgate.mutate.encoding import normalize_name

if TYPE_CHECKING:
    from multidict import CIMultiDict


@dataclass(frozen=True, slots=True)
class HeaderSet:
    """Folded header names and folded name prefixes."""

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> HeaderSet:
        """From names and `Prefix-*` entries, in any spelling."""
        folded = [normalize_name(entry) for entry in entries]
        names = frozenset(e for e in folded if not e.endswith("*"))
        prefixes = tuple(sorted({e[:-1] for e in folded if e.endswith("*")}))
        return cls(names, prefixes)

    def __or__(self, other: HeaderSet) -> HeaderSet:
        return HeaderSet(self.names | other.names, tuple(sorted({*self.prefixes, *other.prefixes})))

    def matches(self, name: str) -> bool:
        folded = normalize_name(name)
        return folded in self.names or folded.startswith(self.prefixes)


IDENTITY = HeaderSet.of(
    (
        # oauth2-proxy (and nginx auth_request recipes built on it)
        "X-Forwarded-User",
        "X-Forwarded-Email",
        "X-Forwarded-Groups",
        "X-Forwarded-Preferred-Username",
        "X-Forwarded-Access-Token",
        "X-Auth-Request-*",
        # Authelia, and the Apache/CGI REMOTE_USER convention
        "Remote-User",
        "Remote-Groups",
        "Remote-Name",
        "Remote-Email",
        "X-Remote-User",
        # Grafana's auth proxy, Pomerium, Google IAP, Cloudflare Access, AWS ALB, Azure
        "X-WEBAUTH-*",
        "X-Pomerium-*",
        "X-Goog-Authenticated-User-*",
        "X-Goog-Iap-Jwt-Assertion",
        "Cf-Access-*",
        "X-Amzn-Oidc-*",
        "X-MS-CLIENT-PRINCIPAL*",
        # what home-grown apps read
        "X-User",
        "X-User-Id",
        "X-Email",
        # the gateway's own namespace: future headers are covered before they exist
        "X-Authgate-*",
    )
)

FORWARDING = HeaderSet.of(
    (
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "X-Forwarded-Port",
        "X-Forwarded-Prefix",
        "X-Real-IP",
        "Forwarded",
        # rebuilt too: the gateway always sends its own (a trusted proxy's is kept as
        # the request id), so a `X_Request_Id` spelling cannot smuggle a second one
        # into an upstream's logs and traces.
        "X-Request-Id",
    )
)
# W3C Trace Context (https://www.w3.org/TR/trace-context/): a client's own trace
# context would let anyone pick the trace id an upstream's spans join, or force
# sampling on (the `sampled` flag) at every upstream's expense. Only a trusted
# proxy's reaches the upstream, and with tracing on it is replaced by the gateway's
# own span's (`tracing/request.py`), child of the trusted one.
TRACE_CONTEXT = HeaderSet.of(("traceparent", "tracestate"))
# What a trusted proxy may pass on in the canonical spelling (X-Real-IP never: the
# gateway does not rebuild it, and upstreams should read X-Forwarded-For).
TRUSTED_FORWARDING = frozenset(FORWARDING.names - {"x-real-ip"}) | TRACE_CONTEXT.names

METHOD_OVERRIDES = ("X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method")
URL_OVERRIDES = (
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-Original-URI",
    "X-Forwarded-Uri",
    "X-Forwarded-Path",
)
OVERRIDES = HeaderSet.of(METHOD_OVERRIDES + URL_OVERRIDES)

_BUILT_IN = IDENTITY | FORWARDING | OVERRIDES | TRACE_CONTEXT


@lru_cache(maxsize=512)
def route_strip_set(operator_entries: tuple[str, ...], template_names: frozenset[str]) -> HeaderSet:
    """Everything stripped on a route: built-ins, the operator's list, its templates."""
    return _BUILT_IN | HeaderSet.of(operator_entries) | HeaderSet.of(template_names)


def strip(
    headers: CIMultiDict[str], header_set: HeaderSet, keep: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """Remove every header of `header_set` not in `keep`; the removed names, sorted."""
    doomed = {k for k, _ in headers.items() if header_set.matches(k) and k.lower() not in keep}
    for key in doomed:
        headers.popall(key, None)
    return tuple(sorted({key.lower() for key in doomed}))
