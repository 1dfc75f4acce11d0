"""explain(): would this request be allowed, and by which rule? (pure core)

Contract: takes a URL, a method, an identity (or None) and the request's signals,
and returns the `Explanation` of the decision the running gateway would make, by
running the gateway's own steps — not a copy of them: host and path normalization
and route lookup from `authgate.routing`, `authgate.decide.decide` for requests
no route serves (404, 405) and `refuse_request` for bad hosts and paths (400),
and `authgate.policy.authorize.authorize` over the route's compiled policy.
Policies are compiled with `compile_route_policy` (what the snapshot holds), or
taken from `policies` when the caller has them compiled already.
Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authgate.config.schema import GatewayConfig, RouteConfig
from authgate.decide import Context, decide, refuse_request
from authgate.decision import Decision, Reason
from authgate.facts import RequestFacts
from authgate.identity import Identity
from authgate.policy.compile import RoutePolicy, compile_route_policy
from authgate.routing import (
    HostRejected,
    PathRejected,
    Route,
    RouteLookup,
    RouteTable,
    check_query,
    normalize_host,
    normalize_path,
    split_target,
)


@dataclass(frozen=True, slots=True)
class Explanation:
    route_id: str | None
    decision: str  # allow, deny, login, step_up (an `Outcome` value)
    rule: str | None
    reasons: tuple[str, ...]
    status: int
    path: str  # the normalized path the rules saw ("" when refused)
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"


@dataclass(frozen=True, slots=True)
class Target:
    """A URL as the gateway sees it: the facts and the route lookup."""

    facts: RequestFacts
    lookup: RouteLookup


def locate(routes: RouteTable, *, url: str, method: str, ip: str, now: float) -> Target | Decision:
    """Normalize and route `url` exactly as a request; a `Decision` when refused."""
    parts = urlsplit(url)
    try:
        host = normalize_host(parts.netloc)
    except HostRejected:
        return refuse_request(Reason.HOST_INVALID)
    raw_target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    raw_path, query = split_target(raw_target)
    try:
        path = normalize_path(raw_path)
        check_query(query)
    except PathRejected:
        return refuse_request(Reason.PATH_INVALID)
    facts = RequestFacts(
        "explain", method, parts.scheme, host, raw_target, path, query, ip, ip, False, 0.0, now
    )
    return Target(facts, routes.match(host, path, method))


def explain(
    snapshot_routes: RouteTable,
    config: GatewayConfig,
    *,
    url: str,
    method: str,
    identity: Identity | None,
    ip: str,
    country: str | None,
    now: float,
    device: Mapping[str, Any] | None = None,
    risk: float | None = None,
    policies: Mapping[str, RoutePolicy] | None = None,
    grants: frozenset[str] = frozenset(),
) -> Explanation:
    """`grants`: the entitlements the identity holds an active grant of (on this route)."""
    target = locate(snapshot_routes, url=url, method=method, ip=ip, now=now)
    if isinstance(target, Decision):
        return _explained(target, "")
    route = target.lookup.route
    if route is None:
        return _explained(decide(target.facts, target.lookup, identity), target.facts.path)
    policy = (policies or {}).get(route.id) or compile_route_policy(
        _route_config(config, route), frozenset(config.entitlements)
    )
    held = {name: "explain" for name in grants}
    context = Context(country=country, device=device, risk=risk, grants=held)
    decision = decide(target.facts, target.lookup, identity, policy=policy, context=context)
    return _explained(decision, target.facts.path)


def _route_config(config: GatewayConfig, route: Route) -> RouteConfig:
    """The route's entry in `config` (the snapshot's table was compiled from it)."""
    return next((entry for entry in config.routes if entry.id == route.id), route.config)


def _explained(decision: Decision, path: str) -> Explanation:
    return Explanation(
        route_id=decision.route_id,
        decision=decision.outcome.value,
        rule=decision.rule,
        reasons=tuple(reason.value for reason in decision.reasons),
        status=decision.status,
        path=path,
        extra=decision.extra,
    )
