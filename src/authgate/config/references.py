"""Cross-reference checks: what one part of the config says about another.

Contract: `check_references(config) -> list[ConfigProblem]`, pure and offline. Each
problem names the key path that is wrong (`routes[2].providers[0]`); the snapshot
builder fills in file and line. Default deny depends on these: a route that needs a
login must have secrets to sign its cookies, and a provider it names must exist. (A
route without any provider is valid: its non-public paths answer 401, default deny.)
"""

from __future__ import annotations

from authgate.config.errors import ConfigProblem
from authgate.config.schema import GatewayConfig, RouteConfig
from authgate.config.schema_policy import PolicyEntry


def check_references(config: GatewayConfig) -> list[ConfigProblem]:
    known = {provider.id for provider in config.providers}
    problems: list[ConfigProblem] = []
    for index, route in enumerate(config.routes):
        problems += _route_problems(index, route, known)
    if config.providers and config.secrets is None:
        problems.append(
            _problem("secrets.cookie_secret", "login needs a cookie secret (32+ characters)")
        )
    problems += workers_problems(config)
    problems += _opaque_token_problems(config)
    problems += _dpop_nonce_problems(config)
    if config.devices.mtls is not None and config.server.tls is None:
        problems.append(_problem("devices.mtls", "client certificates need TLS on the listener: set server.tls"))
    if config.geoip is None or not config.geoip.has_location:
        problems += _country_without_geo(config)
    return problems


def _country_without_geo(config: GatewayConfig) -> list[ConfigProblem]:
    """A `country` criterion with no database to answer it would fail closed on every
    request (unknown country never matches): say so at load instead."""
    found: list[ConfigProblem] = []
    for index, route in enumerate(config.routes):
        if route.policy is None:
            continue
        for block in ("allow", "deny"):
            for at, entry in enumerate(getattr(route.policy, block)):
                for key in _country_keys(entry, f"routes[{index}].policy.{block}[{at}]"):
                    found.append(_problem(key, "a country criterion needs geoip.city or geoip.country"))
    return found


def _country_keys(entry: PolicyEntry, key: str) -> list[str]:
    if entry.country is not None:
        return [key + ".country"]
    nested = [(f"{key}.{name}[{i}]", e) for name in ("and", "or") for i, e in enumerate(getattr(entry, name + "_") or [])]
    if entry.not_ is not None:
        nested.append((key + ".not", entry.not_))
    return [found for inner_key, inner in nested for found in _country_keys(inner, inner_key)]


def _route_problems(index: int, route: RouteConfig, known: set[str]) -> list[ConfigProblem]:
    where = f"routes[{index}]"
    problems = [
        _problem(f"{where}.providers[{i}]", f"no provider with id {name!r}")
        for i, name in enumerate(route.providers or ())
        if name not in known
    ]
    if route.bearer is not None:
        problems += [
            _problem(f"{where}.bearer.providers[{i}]", f"no provider with id {name!r}")
            for i, name in enumerate(route.bearer.providers or ())
            if name not in known
        ]
    if "bearer" in route.authenticate and route.bearer is None:
        problems.append(_problem(f"{where}.bearer", "authenticate lists bearer: give bearer.audiences"))
    return problems


def _opaque_token_problems(config: GatewayConfig) -> list[ConfigProblem]:
    """An opaque token names no issuer: a bearer route may accept opaque tokens from
    one provider only, or the gateway would have to hand a user's token to every
    provider to ask whose it is (docs/agents.md)."""
    takes_opaque = {p.id for p in config.providers if p.access_tokens != "jwt"}
    found: list[ConfigProblem] = []
    for index, route in enumerate(config.routes):
        if route.bearer is None:
            continue
        named = route.bearer.providers
        opaque = sorted(takes_opaque if named is None else takes_opaque.intersection(named))
        if len(opaque) > 1:
            key = f"routes[{index}].bearer" + (".providers" if named is not None else "")
            found.append(_problem(key, (
                f"opaque access tokens from more than one provider ({', '.join(opaque)}): "
                "list at most one provider with access_tokens opaque or auto here"
            )))
    return found


def _dpop_nonce_problems(config: GatewayConfig) -> list[ConfigProblem]:
    """Nonces are an HMAC under a key derived from the cookie secret (the same in
    every replica): without a secret there is nothing to make them with."""
    if config.secrets is not None:
        return []
    return [
        _problem(f"routes[{index}].bearer.dpop_nonce", "DPoP nonces need secrets.cookie_secret")
        for index, route in enumerate(config.routes)
        if route.bearer is not None and route.bearer.dpop_nonce
    ]


def _problem(key: str, message: str) -> ConfigProblem:
    return ConfigProblem("", None, key, message)


def workers_problems(config: GatewayConfig) -> list[ConfigProblem]:
    workers = config.server.workers
    if workers > 1 and config.store.backend == "memory":
        return [
            ConfigProblem(
                "",
                None,
                "server.workers",
                f"{workers} workers need a shared session store: the memory store lives "
                "inside one process, so a session made by one worker would be unknown to "
                "the others. Set store.backend: redis, or workers: 1",
            )
        ]
    return []
