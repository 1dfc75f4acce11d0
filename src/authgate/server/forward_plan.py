"""Mutate an allowed request's headers for its upstream: the plain half of forwarding.

Contract: the mutator runs on every forwarded request, identity or not — incoming
identity, forwarding and override headers (`authgate.mutate.spoofed`, every spelling)
are stripped even on public paths, so a client can never present its own
`X-Authgate-User` or `X-Forwarded-User` to an upstream; the names stripped go in the
decision record (`stripped`). Then the forwarding headers are rebuilt, the route's
opted-in overrides are set to what was evaluated, and the identity headers are set.
`Authorization` reaches the upstream only as the gateway validated it (a bearer
token), on public paths as sent, or where the route sets `pass_authorization`:
a session-authenticated request's `Authorization` was never checked by anyone.
With a validated token the `DPoP` proof header is dropped unless `bearer.forward_dpop`.
`upstream_target_path` is the target the upstream gets: the normalized path the
policy matched on, under the upstream's base path. Reads only the `Wire`: both front
ends send exactly these headers (`server/verdict.py`).
"""

from __future__ import annotations

from functools import lru_cache

from multidict import CIMultiDict

from authgate.facts import RequestFacts
from authgate.mutate.identity_headers import identity_headers, strip_cookie
from authgate.mutate.spoofed import TRUSTED_FORWARDING, route_strip_set, strip
from authgate.overrides import rewrite
from authgate.proxy.headers import end_to_end, set_forwarding
from authgate.request_id import HEADER as REQUEST_ID_HEADER
from authgate.routing import Route
from authgate.server.auth_state import AuthRuntime
from authgate.server.authenticate import AuthResult
from authgate.server.cookies import gateway_cookies
from authgate.server.exchange import Exchange
from authgate.server.state import ServerRuntime, UpstreamTarget
from authgate.wire import Wire

# `Expect: 100-continue` was answered by our own server; `Host` is set per route.
REQUEST_ONLY_DROP = ("expect", "host")


def upstream_target_path(target: UpstreamTarget, facts: RequestFacts) -> str:
    # The upstream gets the normalized path: the same bytes the policy matched on.
    path = target.base_path + facts.path
    # An empty query keeps its "?" (RFC 3986 §6.2.3: "/a?" and "/a" may differ).
    return path + "?" + facts.query if facts.query or "?" in facts.raw_target else path


def upstream_headers(
    wire: Wire,
    exchange: Exchange,
    route: Route,
    auth: AuthResult,
    gateway: AuthRuntime,
    runtime: ServerRuntime,
) -> CIMultiDict[str]:
    facts = exchange.facts
    headers = end_to_end(wire.headers, REQUEST_ONLY_DROP)
    if route.preserve_host:
        host_header = wire.headers.get("Host")
        if host_header is not None:
            headers["Host"] = host_header
    strip_set = route_strip_set(
        tuple(runtime.snapshot.config.server.strip_headers), gateway.templates[route.id].names
    )
    stripped = strip(headers, strip_set, _kept(route, facts.peer_trusted))
    stripped += _authorization(headers, route, auth)
    set_forwarding(
        headers,
        wire.headers,
        peer=facts.peer_ip,
        peer_trusted=facts.peer_trusted,
        proto=facts.scheme,
        host=wire.headers.get("Host", facts.host),
        port=wire.listener_port,
    )
    rewrite(headers, facts, route.config.forward_overrides)
    headers[REQUEST_ID_HEADER] = facts.request_id
    sessions = runtime.snapshot.config.sessions
    strip_cookie(headers, *gateway_cookies(sessions, facts.scheme == "https"))
    if auth.identity is not None:
        exchange.headers_dropped = add_identity(headers, facts, route, auth, gateway)
    exchange.stripped = stripped
    return headers


@lru_cache(maxsize=1024)
def _kept_names(overrides: tuple[str, ...], peer_trusted: bool) -> frozenset[str]:
    trusted = TRUSTED_FORWARDING if peer_trusted else frozenset()
    return trusted | {name.lower() for name in overrides}


def _kept(route: Route, peer_trusted: bool) -> frozenset[str]:
    """Canonical names that survive the strip: a trusted proxy's chain, opted-in overrides."""
    return _kept_names(tuple(route.config.forward_overrides), peer_trusted)


def _authorization(headers: CIMultiDict[str], route: Route, auth: AuthResult) -> tuple[str, ...]:
    """Only a credential the gateway validated reaches the upstream (Pomerium CVE-2021-39206)."""
    if auth.authorization is not None:
        headers.popall("Authorization", None)
        headers["Authorization"] = auth.authorization
        return _dpop_proof(headers, route)
    # No identity on an allowed request: a public path, where the upstream does its
    # own authentication and the gateway checked nothing it could vouch for.
    if auth.identity is None or route.config.pass_authorization:
        return ()
    if headers.popall("Authorization", None) is None:
        return ()
    return ("authorization",)


def _dpop_proof(headers: CIMultiDict[str], route: Route) -> tuple[str, ...]:
    """The DPoP proof was for the gateway's URL and is spent (its jti remembered):
    it goes upstream only where the route says so (`bearer.forward_dpop`)."""
    bearer = route.config.bearer
    if bearer is not None and bearer.forward_dpop:
        return ()
    return () if headers.popall("DPoP", None) is None else ("dpop",)


def add_identity(
    headers: CIMultiDict[str],
    facts: RequestFacts,
    route: Route,
    auth: AuthResult,
    gateway: AuthRuntime,
    *,
    forward_auth: bool = False,
) -> tuple[str, ...]:
    """Set the identity headers; return the names the route's header budget dropped."""
    identity = auth.identity
    assert identity is not None
    assertion = None
    if gateway.signer is not None:
        assertion = gateway.signer.sign(
            identity,
            audience=route.id,
            now=facts.time,
            ttl=route.config.assertion_ttl,
            request_id=facts.request_id,
        )
    access_token = None
    if route.config.pass_access_token and auth.session is not None:
        access_token = auth.session.tokens.access_token
    # The assertion above is signed from the whole identity; the plain headers show
    # the groups the route lets through, within its size budget (mutate/header_budget).
    budget = gateway.header_budgets[route.id]
    pairs = identity_headers(
        budget.shown(identity),
        gateway.templates[route.id],
        assertion=assertion,
        access_token=access_token,
        forward_auth=forward_auth,
    )
    kept, dropped = budget.fit(pairs)
    for name, value in kept:
        headers[name] = value
    return dropped
