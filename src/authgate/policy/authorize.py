"""authorize(): a routed request's facts and identity -> the `Decision`, for one route.

Contract: pure and synchronous; the ONE place that turns a policy evaluation into
an outcome, called by the gateway's `decide` and by `authgate explain` alike, so
explaining a request cannot drift from serving it. In order:

1. a public path of the route allows anyone (`route-public`, rule
   `routes[id].public[i]`) — still decided and logged;
2. an identity from a provider the route does not accept -> `login` (401);
3. the policy (`authgate.policy.evaluate`): refused with no identity while a login
   could change the answer -> `login` (401, `user-unauthenticated`); refused by the
   audience's default policy (no `policy:` on the route) for MFA alone -> `step_up`
   (401, `mfa-required`, `mfa` in `extra`: a fresh login that must show one of the
   policy's `mfa_methods`, checked at the callback so a second password-only login
   ends on `step-up-failed`, not in a loop); refused otherwise -> `deny` (403) with
   the deciding rule and reasons — and, when a `scopes` criterion failed, the
   route's scopes as `scope` in `extra` (RFC 6750 §3.1 `insufficient_scope`);
4. allowed, but a step-up rule covers the path and the login falls short ->
   `step_up` (401) with `acr_values` / `max_age` / `amr` in `extra`, for the
   enforcer's authorization request (`prompt=login`) or an RFC 9470
   `insufficient_user_authentication` challenge for bearer clients;
5. allowed, but the route's required consents are missing -> `deny` (403)
   `consent-required` with `consent_url` in `extra`: the enforcer redirects a
   browser there with a return URL;
6. otherwise `allow` with the rule and reasons that decided.
Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authgate.decision import Decision, Outcome, Reason
from authgate.facts import RequestFacts
from authgate.identity import Identity
from authgate.policy import reasons
from authgate.policy.compile import RoutePolicy
from authgate.policy.evaluate import PolicyInput, PolicyResult, evaluate
from authgate.policy.stepup import StepUpNeed, consent_missing, step_up_needed
from authgate.routing import Route

_REASONS: Mapping[str, Reason] = {reason.value: reason for reason in Reason}


def public_rule(route: Route, path: str) -> str | None:
    """The rule naming the first public pattern that covers `path`, if any."""
    for index, pattern in enumerate(route.public):
        if pattern.matches(path):
            return f"routes[{route.id}].public[{index}]"
    return None


def policy_input(
    facts: RequestFacts,
    identity: Identity | None,
    policy: RoutePolicy,
    *,
    country: str | None = None,
    device: Mapping[str, Any] | None = None,
    risk: float | None = None,
    grants: Mapping[str, str] | None = None,
) -> PolicyInput:
    """The policy's view of a request: facts, identity and signals as plain data."""
    claim = policy.consent.claim if policy.consent is not None else "consents"
    return PolicyInput(
        facts.method,
        facts.path,
        facts.client_ip,
        facts.time,
        identity,
        country,
        device,
        risk,
        claim,
        grants,
    )


def authorize(route: Route, policy: RoutePolicy, inp: PolicyInput) -> Decision:
    public = public_rule(route, inp.path)
    if public is not None:
        return Decision(Outcome.ALLOW, (Reason.ROUTE_PUBLIC,), route_id=route.id, rule=public)
    identity = inp.identity
    accepted = route.config.providers
    if identity is not None and accepted is not None and identity.provider not in accepted:
        return Decision(
            Outcome.LOGIN, (Reason.PROVIDER_NOT_ACCEPTED,), route_id=route.id, status=401
        )
    result = evaluate(policy.policy, inp)
    if not result.allowed:
        if identity is not None and _mfa_is_missing(policy, result):
            return _mfa_step_up(route.id, policy)
        return _refused(route.id, result, identity, policy.scopes)
    need = step_up_needed(policy.step_up, identity, inp.path, inp.now)
    if need is not None:
        return _step_up(route.id, need)
    if identity is not None and consent_missing(policy.consent, identity):
        return _consent(route.id, policy)
    return Decision(Outcome.ALLOW, codes(result.reasons), route_id=route.id, rule=result.rule)


def codes(found: tuple[str, ...]) -> tuple[Reason, ...]:
    """Policy reason strings as `Reason` members (every policy code is one)."""
    return tuple(_REASONS[code] for code in found)


def _refused(
    route_id: str, result: PolicyResult, identity: Identity | None, scopes: tuple[str, ...]
) -> Decision:
    if identity is None and result.identity_needed:
        return Decision(
            Outcome.LOGIN,
            (Reason.USER_UNAUTHENTICATED,),
            route_id=route_id,
            rule=result.rule,
            status=401,
        )
    found = codes(result.reasons)
    # RFC 6750 §3.1: a token short of a scope is told which scope the resource needs.
    extra = (("scope", " ".join(scopes)),) if Reason.SCOPES_INSUFFICIENT in found and scopes else ()
    return Decision(
        Outcome.DENY, found, route_id=route_id, rule=result.rule, status=403, extra=extra
    )


# What a refusal of the default policy may name besides MFA and still be "only MFA".
_MFA_ONLY = {reasons.MFA_REQUIRED, reasons.POLICY_NO_MATCH}


def _mfa_is_missing(policy: RoutePolicy, result: PolicyResult) -> bool:
    """The audience's default (`authenticated AND mfa`) refused a signed-in user for
    MFA alone: a login with a second factor would be let in, so a 403 is a dead end.
    A route's own policy is the operator's word and is left as written."""
    found = set(result.reasons)
    return (
        policy.policy.source == "audience"
        and reasons.MFA_REQUIRED in found
        and found <= _MFA_ONLY
    )


def _mfa_step_up(route_id: str, policy: RoutePolicy) -> Decision:
    methods = " ".join(sorted(policy.settings.policy.mfa_methods))
    return Decision(
        Outcome.STEP_UP,
        (Reason.MFA_REQUIRED,),
        route_id=route_id,
        rule=f"routes[{route_id}].default[{policy.settings.audience}]",
        status=401,
        extra=(("mfa", methods),),
    )


def _step_up(route_id: str, need: StepUpNeed) -> Decision:
    extra: list[tuple[str, str]] = []
    if need.acr is not None:
        extra.append(("acr_values", need.acr))
    if need.max_age is not None:
        extra.append(("max_age", str(int(need.max_age))))  # OIDC max_age: whole seconds
    if need.amr:
        extra.append(("amr", " ".join(need.amr)))
    return Decision(
        Outcome.STEP_UP,
        codes((need.reason,)),
        route_id=route_id,
        rule=need.rule,
        status=401,
        extra=tuple(extra),
    )


def _consent(route_id: str, policy: RoutePolicy) -> Decision:
    url = str(policy.consent.url) if policy.consent is not None else ""
    return Decision(
        Outcome.DENY,
        (Reason.CONSENT_REQUIRED,),
        route_id=route_id,
        rule=f"routes[{route_id}].consent",
        status=403,
        extra=(("consent_url", url),),
    )
