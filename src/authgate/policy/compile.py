"""Compile a route's policy and step-up blocks once, at load, into evaluators.

Contract:
- `compile_policy(route_id, config, *, audience)` -> `CompiledPolicy`. Each entry
  becomes a small frozen evaluator carrying its rule path, in the route ID's
  spelling the decision log shows: `routes[hr].policy.allow[1].and[0]`. Without a
  `policy:` the audience's default is compiled (`authgate.policy.audience`), with
  rule paths `routes[hr].default[workforce].allow[0]` (`routes[hr].default...` for
  no audience) so a log reader sees that no written rule decided.
- `compile_step_up(route_id, config)` -> the route's `StepUpRule`s.
- `compile_route_policy(route)` -> `RoutePolicy`: everything `authorize` needs;
  `compile_policies(config)` -> every route's, and the problems (the snapshot's).
- Problems found compiling — a bad CIDR, an unknown time zone, bad hours, a glob
  that cannot be matched safely — are ALL collected and raised as one
  `PolicyError`, each with its key path relative to the route
  (`policy.deny[0].ip[1]`); `policy_problems(config)` turns them into
  `ConfigProblem`s keyed from the file's root (`routes[2].policy.deny[0].ip[1]`).
Pure module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from authgate.config.errors import ConfigProblem
from authgate.config.schema import GatewayConfig, RouteConfig
from authgate.config.schema_policy import (
    Audience,
    ClaimCriterion,
    ConsentConfig,
    CountryCriterion,
    PolicyConfig,
    PolicyEntry,
    RiskCriterion,
    StepUpConfig,
    TimeCriterion,
)
from authgate.policy import reasons as r
from authgate.policy.audience import EffectiveSettings, effective_route_settings
from authgate.policy.audience import default_policy as audience_policy
from authgate.policy.combinators import And, Not, Or
from authgate.policy.criteria.authn import Acr, Amr, AuthAge, Mfa
from authgate.policy.criteria.claim import Claim, contains, equals, is_in
from authgate.policy.criteria.consent import Consent
from authgate.policy.criteria.device import Device
from authgate.policy.criteria.email import Email, EmailDomain
from authgate.policy.criteria.entitlement import Entitlement
from authgate.policy.criteria.identity import Authenticated, User
from authgate.policy.criteria.membership import Membership
from authgate.policy.criteria.network import Country, Ip, compile_network
from authgate.policy.criteria.request import Method, Path
from authgate.policy.criteria.risk import Risk
from authgate.policy.criteria.schedule import (
    DAYS,
    TimeWindow,
    compile_hours,
    compile_zone,
)
from authgate.policy.criteria.scopes import Scopes
from authgate.policy.evaluate import CompiledPolicy, PolicySource
from authgate.policy.stepup import StepUpRule
from authgate.policy.verdict import UNKNOWN_FACT, Evaluator, Outcomes, outcomes
from authgate.routing import compile_glob, compile_methods

_T = TypeVar("_T")
_R = TypeVar("_R")


class PolicyError(ValueError):
    """Policies that do not compile; `problems` lists (key path, message) pairs,
    keys relative to the route (`policy.deny[0].ip[1]`)."""

    def __init__(self, key: str, message: str, *more: tuple[str, str]) -> None:
        self.problems: tuple[tuple[str, str], ...] = ((key, message), *more)
        self.key = key
        self.message = message
        super().__init__("; ".join(f"{k}: {m}" for k, m in self.problems))


@dataclass
class _Context:
    route_id: str
    mfa_methods: frozenset[str]
    # Declared entitlement names (None: not checked); those the policy names, found.
    entitlements: frozenset[str] | None = None
    named: set[str] = field(default_factory=set)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def attempt(self, key: str, compile_: Callable[[_T], _R], value: _T) -> _R | None:
        try:
            return compile_(value)
        except ValueError as error:
            self.problems.append((key, f"{str(value)!r}: {error}"))
            return None

    def raise_problems(self) -> None:
        if self.problems:
            raise PolicyError(*self.problems[0], *self.problems[1:])


@dataclass(frozen=True, slots=True)
class _Place:
    """Where an entry sits: its key path (for problems), rule path, polarity."""

    key: str  # policy.allow[1].and[0]
    rule: str  # routes[hr].policy.allow[1].and[0]
    positive: bool  # pushing it towards YES pushes the request towards allowed

    def child(self, suffix: str, *, flip: bool = False) -> _Place:
        return _Place(self.key + suffix, self.rule + suffix, self.positive is not flip)

    def outcomes(self, ok: str, failed: str, unknown: str | None = None) -> Outcomes:
        return outcomes(self.rule, ok, failed, positive=self.positive, unknown=unknown)


def compile_policy(
    route_id: str,
    config: PolicyConfig | None,
    *,
    audience: Audience | None,
    entitlements: frozenset[str] | None = None,
) -> CompiledPolicy:
    """`entitlements`: the declared names an `entitlement:` criterion may use (None:
    any); the compiled policy lists those it uses (`CompiledPolicy.entitlements`)."""
    base = "policy" if config is not None else _default_base(audience)
    config = config if config is not None else audience_policy(audience)
    ctx = _Context(route_id, frozenset(config.mfa_methods), entitlements)
    root = _Place(base, f"routes[{route_id}].{base}", positive=True)
    allow = _entries(config.allow, root.child(".allow"), ctx)
    deny = _entries(config.deny, root.child(".deny", flip=True), ctx)
    ctx.raise_problems()
    source: PolicySource = "route" if base == "policy" else "audience"
    return CompiledPolicy(route_id, allow, deny, source, frozenset(ctx.named))


def _default_base(audience: Audience | None) -> str:
    return "default" if audience is None else f"default[{audience}]"


def _entries(entries: list[PolicyEntry], at: _Place, ctx: _Context) -> tuple[Evaluator, ...]:
    compiled = [_entry(entry, at.child(f"[{index}]"), ctx) for index, entry in enumerate(entries)]
    return tuple(item for item in compiled if item is not None)


def _entry(entry: PolicyEntry, at: _Place, ctx: _Context) -> Evaluator | None:
    kind = entry.kind
    if kind in ("and", "or"):
        children = _entries(getattr(entry, kind + "_"), at.child(f".{kind}"), ctx)
        return And(at.rule, children) if kind == "and" else Or(at.rule, children)
    if kind == "not":
        inner = entry.not_
        child = None if inner is None else _entry(inner, at.child(".not", flip=True), ctx)
        return None if child is None else Not(at.rule, child)
    return _CRITERIA[kind](getattr(entry, kind), at, ctx)


def _authenticated(value: bool, at: _Place, ctx: _Context) -> Evaluator:
    return Authenticated(at.rule, at.outcomes(r.USER_AUTHENTICATED, r.USER_UNAUTHENTICATED))


def _user(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    return User(at.rule, at.outcomes(r.USER_OK, r.USER_UNAUTHORIZED), frozenset(value))


def _email(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.EMAIL_OK, r.EMAIL_UNAUTHORIZED, r.EMAIL_UNVERIFIED)
    return Email(at.rule, out, frozenset(value))


def _email_domain(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.EMAIL_DOMAIN_OK, r.EMAIL_DOMAIN_UNAUTHORIZED, r.EMAIL_UNVERIFIED)
    malformed = (UNKNOWN_FACT, (r.EMAIL_MALFORMED,), at.rule)
    exact = frozenset(d for d in value if not d.startswith("*."))
    suffixes = tuple(d[1:] for d in value if d.startswith("*."))
    return EmailDomain(at.rule, out, malformed, exact, suffixes)


def _groups(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.GROUPS_OK, r.GROUPS_UNAUTHORIZED, r.CLAIM_TYPE_MISMATCH)
    return Membership(at.rule, out, frozenset(value), "groups")


def _roles(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.ROLES_OK, r.ROLES_UNAUTHORIZED, r.CLAIM_TYPE_MISMATCH)
    return Membership(at.rule, out, frozenset(value), "roles")


def _claim(value: ClaimCriterion, at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.CLAIM_OK, r.CLAIM_UNAUTHORIZED)
    if value.in_ is not None:
        return Claim(at.rule, out, value.path, is_in, tuple(value.in_))
    if value.contains is not None:
        return Claim(at.rule, out, value.path, contains, (value.contains,))
    operand = () if value.equals is None else (value.equals,)  # the schema gives one
    return Claim(at.rule, out, value.path, equals, operand)


def _mfa(value: bool, at: _Place, ctx: _Context) -> Evaluator:
    return Mfa(at.rule, at.outcomes(r.MFA_OK, r.MFA_REQUIRED), ctx.mfa_methods, value)


def _acr(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    return Acr(at.rule, at.outcomes(r.ACR_OK, r.ACR_INSUFFICIENT), frozenset(value))


def _amr(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    return Amr(at.rule, at.outcomes(r.AMR_OK, r.AMR_INSUFFICIENT), frozenset(value))


def _auth_age(value: float, at: _Place, ctx: _Context) -> Evaluator:
    return AuthAge(at.rule, at.outcomes(r.AUTH_AGE_OK, r.AUTH_AGE_EXPIRED), value)


def _country(value: CountryCriterion, at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.COUNTRY_OK, r.COUNTRY_UNAUTHORIZED, r.COUNTRY_UNKNOWN)
    inside = value.in_ is not None
    codes = value.in_ if value.in_ is not None else value.not_in or []
    return Country(at.rule, out, frozenset(codes), inside)


def _ip(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    networks = [
        ctx.attempt(f"{at.key}.ip[{index}]", compile_network, text)
        for index, text in enumerate(value)
    ]
    out = at.outcomes(r.IP_OK, r.IP_UNAUTHORIZED, r.IP_UNKNOWN)
    return Ip(at.rule, out, tuple(net for net in networks if net is not None))


def _device(value: dict[str, bool | int | str], at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.DEVICE_OK, r.DEVICE_UNAUTHORIZED, r.DEVICE_UNKNOWN)
    return Device(at.rule, out, tuple(value.items()))


def _time(value: TimeCriterion, at: _Place, ctx: _Context) -> Evaluator:
    zone = ctx.attempt(f"{at.key}.time.tz", compile_zone, value.tz)
    hours = None
    if value.hours is not None:
        hours = ctx.attempt(f"{at.key}.time.hours", compile_hours, value.hours)
    days = None if value.days is None else frozenset(DAYS.index(day) for day in value.days)
    out = at.outcomes(r.TIME_OK, r.TIME_UNAUTHORIZED)
    return TimeWindow(at.rule, out, days, hours, zone if zone is not None else compile_zone("UTC"))


def _method(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    methods = compile_methods(value) or frozenset()
    return Method(at.rule, at.outcomes(r.METHOD_OK, r.METHOD_UNAUTHORIZED), methods)


def _path(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    globs = [
        ctx.attempt(f"{at.key}.path[{index}]", compile_glob, pattern)
        for index, pattern in enumerate(value)
    ]
    out = at.outcomes(r.PATH_OK, r.PATH_UNAUTHORIZED)
    return Path(at.rule, out, tuple(glob for glob in globs if glob is not None))


def _risk(value: RiskCriterion, at: _Place, ctx: _Context) -> Evaluator:
    out = at.outcomes(r.RISK_OK, r.RISK_TOO_HIGH, r.RISK_UNKNOWN)
    return Risk(at.rule, out, value.below)


def _scopes(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    return Scopes(at.rule, at.outcomes(r.SCOPES_OK, r.SCOPES_INSUFFICIENT), frozenset(value))


def _consent(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    return Consent(at.rule, at.outcomes(r.CONSENT_OK, r.CONSENT_REQUIRED), frozenset(value))


def _entitlement(value: list[str], at: _Place, ctx: _Context) -> Evaluator:
    for index, name in enumerate(value):
        if ctx.entitlements is not None and name not in ctx.entitlements:
            ctx.problems.append(
                (f"{at.key}.entitlement[{index}]", f"no entitlement {name!r} under entitlements:")
            )
    ctx.named.update(value)
    out = at.outcomes(r.ENTITLEMENT_OK, r.ENTITLEMENT_REQUIRED, r.ENTITLEMENT_UNKNOWN)
    return Entitlement(at.rule, out, frozenset(value))


_CRITERIA: dict[str, Callable[[Any, _Place, _Context], Evaluator]] = {
    "authenticated": _authenticated,
    "user": _user,
    "email": _email,
    "email_domain": _email_domain,
    "groups": _groups,
    "roles": _roles,
    "claim": _claim,
    "mfa": _mfa,
    "acr": _acr,
    "amr": _amr,
    "auth_age": _auth_age,
    "country": _country,
    "ip": _ip,
    "device": _device,
    "time": _time,
    "method": _method,
    "path": _path,
    "risk": _risk,
    "scopes": _scopes,
    "consent": _consent,
    "entitlement": _entitlement,
}


def compile_step_up(
    route_id: str, config: StepUpConfig | list[StepUpConfig] | None
) -> tuple[StepUpRule, ...]:
    """The route's step-up rules; a single block is keyed `step_up`, a list `step_up[i]`."""
    if config is None:
        return ()
    ctx = _Context(route_id, frozenset())
    blocks = (
        [("step_up", config)]
        if isinstance(config, StepUpConfig)
        else [(f"step_up[{index}]", block) for index, block in enumerate(config)]
    )
    rules = tuple(_step_up_rule(key, block, ctx) for key, block in blocks)
    ctx.raise_problems()
    return rules


def _step_up_rule(key: str, block: StepUpConfig, ctx: _Context) -> StepUpRule:
    paths = None
    if block.paths is not None:
        globs = [
            ctx.attempt(f"{key}.paths[{index}]", compile_glob, pattern)
            for index, pattern in enumerate(block.paths)
        ]
        paths = tuple(glob for glob in globs if glob is not None)
    rule = f"routes[{ctx.route_id}].{key}"
    return StepUpRule(rule, paths, block.acr, tuple(block.amr or ()), block.max_age)


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """Everything `authorize` needs for one route, compiled once at load."""

    route_id: str
    settings: EffectiveSettings
    policy: CompiledPolicy
    step_up: tuple[StepUpRule, ...]
    consent: ConsentConfig | None
    # The OAuth scopes the allow rules ask for, in file order: what RFC 9728 metadata
    # lists as `scopes_supported` and an `insufficient_scope` answer names.
    scopes: tuple[str, ...] = ()


def allowed_scopes(config: PolicyConfig | None) -> tuple[str, ...]:
    """Every scope a `scopes` criterion of an allow rule names (inside `and`/`or`; a
    `not` asks for a scope to be absent, so none under it), each once."""
    found: list[str] = []

    def walk(entry: PolicyEntry) -> None:
        found.extend(entry.scopes or ())
        for child in (entry.and_ or []) + (entry.or_ or []):
            walk(child)

    for entry in config.allow if config is not None else ():
        walk(entry)
    return tuple(dict.fromkeys(found))


def compile_route_policy(
    route: RouteConfig, entitlements: frozenset[str] | None = None
) -> RoutePolicy:
    """Compile a route's policy and step-up blocks; raises `PolicyError` with all problems."""
    problems: list[tuple[str, str]] = []
    policy = step_up = None
    try:
        policy = compile_policy(
            route.id, route.policy, audience=route.audience, entitlements=entitlements
        )
    except PolicyError as error:
        problems += error.problems
    try:
        step_up = compile_step_up(route.id, route.step_up)
    except PolicyError as error:
        problems += error.problems
    if policy is None or step_up is None:
        raise PolicyError(*problems[0], *problems[1:])
    settings = effective_route_settings(route)
    scopes = allowed_scopes(route.policy)
    return RoutePolicy(route.id, settings, policy, step_up, route.consent, scopes)


def compile_policies(config: GatewayConfig) -> tuple[dict[str, RoutePolicy], list[ConfigProblem]]:
    """Every route's policy by route id, and every problem keyed from the file's root
    (a route with problems has no entry). The snapshot keeps the policies: compiled
    once per config, for the checks and for serving."""
    policies: dict[str, RoutePolicy] = {}
    found: list[ConfigProblem] = []
    declared = frozenset(config.entitlements)
    for index, route in enumerate(config.routes):
        try:
            policies[route.id] = compile_route_policy(route, declared)
        except PolicyError as error:
            found += [
                ConfigProblem("", None, f"routes[{index}].{key}", message)
                for key, message in error.problems
            ]
    return policies, found


def policy_problems(config: GatewayConfig) -> list[ConfigProblem]:
    """Every policy and step-up problem of every route, keyed from the file's root."""
    return compile_policies(config)[1]
