"""The request path's grant stage: the entitlements a user holds on this route now.

Contract: `with_grants(adaptive, identity, route_id, policy, auth, now)` returns
`adaptive` with `context.grants` filled — from the process's grant cache
(`authgate.access.cache`) — only when the route's policy names an entitlement and
someone is signed in; every other request returns at the first test, untouched, so
privileged access costs nothing where it is not used. `grant_used(decision,
context)` is the note a record carries when the request was allowed under a grant
(the first, by name, of those held that the policy asks for).
"""

from __future__ import annotations

import dataclasses

from authgate.decision import Decision, Reason
from authgate.decide import Context
from authgate.decisionlog.record import GrantNote
from authgate.identity import Identity
from authgate.policy.compile import RoutePolicy
from authgate.server.adaptive import Adaptive
from authgate.server.auth_state import AuthRuntime


async def with_grants(
    adaptive: Adaptive,
    identity: Identity | None,
    route_id: str,
    policy: RoutePolicy,
    auth: AuthRuntime,
    now: float,
) -> Adaptive:
    names = policy.policy.entitlements
    if not names or identity is None:
        return adaptive
    held = await auth.access.cache.held(identity, route_id, names, now)
    return dataclasses.replace(adaptive, context=dataclasses.replace(adaptive.context, grants=held))


def grant_used(decision: Decision, context: Context) -> GrantNote | None:
    if not decision.allowed or Reason.ENTITLEMENT_OK not in decision.reasons or not context.grants:
        return None
    entitlement = min(context.grants)
    return GrantNote(id=context.grants[entitlement], entitlement=entitlement, event="used")
