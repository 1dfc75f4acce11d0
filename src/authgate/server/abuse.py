"""Login-abuse protection: stricter limits on the login endpoints, bans after failures.

Contract: `guard_login(wire, exchange, runtime, auth, endpoint)` answers a refusal (429
with `Retry-After`, decision `rate_limited`) for a banned client IP or one over the
login endpoints' own limit, or None to go on. `count_failure(auth, kind, value)`
counts a failed callback or bearer token; past `limits.regulation.max_failures`
within `find_time` the IP (or bearer subject) is banned for `ban_time` — regulation
as Authelia does it — and the ban is logged. Store outages never block a login
(logged): a broken Redis must not lock every user out.
"""

from __future__ import annotations

import logging

from aiohttp import web

from authgate.decision import Outcome, Reason
from authgate.outcomes import decided
from authgate.ratelimit.headers import retry_after
from authgate.ratelimit.limiter import LimiterUnavailable
from authgate.ratelimit.route_limits import login_key, login_limit
from authgate.server.answers import decision_response
from authgate.server.auth_state import AuthRuntime
from authgate.server.exchange import Exchange
from authgate.server.state import ServerRuntime
from authgate.wire import Wire

log = logging.getLogger(__name__)


async def guard_login(
    wire: Wire, exchange: Exchange, runtime: ServerRuntime, auth: AuthRuntime, endpoint: str
) -> web.Response | None:
    guards = auth.guards
    client_ip = exchange.facts.client_ip
    try:
        wait = await _banned(auth, "ip", client_ip)
        if wait is None and runtime.snapshot.config.limits.login is not None:
            limit = login_limit(runtime.snapshot.config.limits.login)
            result = await guards.limiter.check(login_key(endpoint, client_ip), limit)
            wait = None if result.allowed else result.retry_after
            reason = Reason.RATE_LIMITED
        else:
            reason = Reason.LOGIN_BANNED
    except LimiterUnavailable as error:
        log.warning("login limits not checked (%s): letting the login through", error)
        return None
    if wait is None:
        return None
    exchange.decision = decided(Outcome.RATE_LIMITED, reason, rule=f"endpoint:{endpoint}")
    exchange.response_headers["Retry-After"] = retry_after(wait)
    return decision_response(wire, runtime.pages, exchange.decision, exchange.facts)


async def _banned(auth: AuthRuntime, kind: str, value: str) -> float | None:
    regulator = auth.guards.regulator
    return await regulator.is_banned(kind, value) if regulator is not None else None


async def is_banned(auth: AuthRuntime, kind: str, value: str) -> bool:
    try:
        return await _banned(auth, kind, value) is not None
    except LimiterUnavailable:
        return False


async def count_failure(auth: AuthRuntime, kind: str, value: str) -> None:
    regulator = auth.guards.regulator
    if regulator is None:
        return
    try:
        if await regulator.record_failure(kind, value):
            log.warning("banned %s %s after repeated failed logins", kind, value)
    except LimiterUnavailable as error:
        log.warning("failed login not counted (%s)", error)
