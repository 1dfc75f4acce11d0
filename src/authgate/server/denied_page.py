"""`/.authgate/denied`: the denied page for a refusal the forward-auth endpoint answered.

Contract: nginx's `auth_request` keeps only the status of the auth answer, not its
page, so the recipe's `error_page 403` fetches this page instead of showing nginx's
bare 403 (docs/forward-auth.md). It answers 403 with the gateway's denied page (HTML
for a browser, JSON otherwise, as every refusal: `answers.decision_response`) naming:

* the reason codes and route of the refusal, from `X-Authgate-Reason` and
  `X-Authgate-Route` — which the proxy copied from the auth answer — and only from a
  peer in `server.trusted_proxies`; unknown codes and route ids are dropped, so the
  page says only what the closed vocabulary says (no text of a client's choosing);
* the request id of the refused request (the proxy sends the one it gave the auth
  call; `request_id` keeps ids only from trusted peers);
* the signed-in user, read from the session cookie as the other endpoints do.

The fetch is recorded as its own endpoint decision (`endpoint:denied`,
`gateway-endpoint`), so the refusal itself is counted once, by the auth call.
"""

from __future__ import annotations

from aiohttp import web

from authgate.decision import Decision, Outcome, Reason
from authgate.outcomes import Place, refusal
from authgate.server.answers import decision_response
from authgate.server.edge import wire_of
from authgate.server.exchange import Exchange
from authgate.server.forward_auth import REASON_HEADER, ROUTE_HEADER
from authgate.server.sessions_view import current_identity
from authgate.server.state import ServerRuntime

DENIED_PATH = "/.authgate/denied"
_KNOWN = {reason.value: reason for reason in Reason}


async def denied_page(
    request: web.Request, exchange: Exchange, runtime: ServerRuntime
) -> web.StreamResponse:
    facts = exchange.facts
    reasons, route_id = _refusal(request, runtime) if facts.peer_trusted else ((), None)
    exchange.decision = refusal(Reason.GATEWAY_ENDPOINT, rule="endpoint:denied", place=Place.DENIED_PAGE)
    exchange.identity = await current_identity(request, facts, runtime)
    shown = Decision(Outcome.DENY, reasons, route_id=route_id, status=403)
    user = exchange.identity.user if exchange.identity else None
    return decision_response(wire_of(request), runtime.pages, shown, facts, user)


def _refusal(request: web.Request, runtime: ServerRuntime) -> tuple[tuple[Reason, ...], str | None]:
    codes = ",".join(request.headers.getall(REASON_HEADER, ())).split(",")
    reasons = tuple(dict.fromkeys(_KNOWN[c.strip()] for c in codes if c.strip() in _KNOWN))
    route_id = request.headers.get(ROUTE_HEADER)
    known = route_id is not None and route_id in runtime.policies  # keyed by route id
    return reasons, route_id if known else None
