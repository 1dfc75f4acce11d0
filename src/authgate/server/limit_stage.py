"""The limit stage: a route's rate limits, after the decision allowed a request.

Contract: `apply_limits(wire, exchange, route, runtime, auth)` checks every limit of the route
(one atomic round trip each on Redis). Over a limit, the exchange's decision becomes
`rate_limited` (429) naming the limit, with `Retry-After`; every answer gets the IETF
`RateLimit-Policy` / `RateLimit` fields of the limits that advertise them. When the
limiter's store is down the route's `on_store_error` decides: `open` serves and
records `rate-limit-unchecked`, `closed` answers 503 — either way it is logged, and
the next request simply tries the store again (recovery needs no restart).
"""

from __future__ import annotations

import dataclasses
import logging

from authgate.decision import Outcome, Reason
from authgate.outcomes import decided
from authgate.ratelimit.headers import rate_limit_headers, retry_after
from authgate.ratelimit.limiter import LimiterUnavailable
from authgate.ratelimit.route_limits import check_limits, refusal
from authgate.routing import Route
from authgate.server.auth_state import AuthRuntime
from authgate.server.exchange import Exchange
from authgate.server.state import ServerRuntime
from authgate.wire import Wire

log = logging.getLogger(__name__)


async def apply_limits(
    wire: Wire, exchange: Exchange, route: Route, runtime: ServerRuntime, auth: AuthRuntime
) -> None:
    limits = runtime.route_limits.get(route.id)
    if not limits:
        return
    identity = exchange.identity
    try:
        statuses = await check_limits(
            auth.guards.limiter,
            limits,
            route_id=route.id,
            client_ip=exchange.facts.client_ip,
            # provider|subject: two providers' users with the same `sub` are two people
            user=f"{identity.provider}|{identity.subject}" if identity else None,
            session_id=identity.session_id if identity else None,
            headers=wire.headers,
        )
    except LimiterUnavailable as error:
        _store_down(exchange, route, error)
        return
    exchange.response_headers.update(rate_limit_headers(statuses))
    refused = refusal(statuses)
    if refused is not None:
        exchange.decision = decided(
            Outcome.RATE_LIMITED,
            Reason.RATE_LIMITED,
            route_id=route.id,
            rule=f"routes[{route.id}].rate_limit[{refused.name}]",
        )
        exchange.response_headers["Retry-After"] = retry_after(refused.result.retry_after)


def _store_down(exchange: Exchange, route: Route, error: Exception) -> None:
    policy = route.config.on_store_error
    log.warning("rate limit of route %s not checked (%s): failing %s", route.id, error, policy)
    if policy == "closed":
        exchange.fail(Reason.RATE_LIMIT_UNAVAILABLE)
    else:
        reasons = exchange.decision.reasons + (Reason.RATE_LIMIT_UNCHECKED,)
        exchange.decision = dataclasses.replace(exchange.decision, reasons=reasons)
