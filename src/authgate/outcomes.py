"""Non-policy outcomes: one table from reason to HTTP status (STYLE.md lesson 16).

Contract: every decision the gateway makes outside the policy — a refusal before
routing, no route, a client header or body refused, a limit reached, an upstream,
provider or store that failed, the gateway's own endpoints — takes its status from
`STATUS`, the one place a reason meets its status. `refusal` builds a deny,
`error` an error, `endpoint` an endpoint's outcome (rule `endpoint:<name>`),
`decided` any other outcome (`rate_limited`); `Exchange.fail` and `UpstreamError`
read the table too. The policy's own statuses (401 to log in, 403 denied, from
`policy.authorize`; the risk step-up and deny in `decide`) are the policy's, not
this table's; a response's own status line (a 302 redirect, forward-auth's 200/401)
follows from the decision it answers.

A few reasons are answered two ways, by where they happen; each such place is a
`Place` and its status is in `AT_PLACE` here, never chosen at the call site:
`status(reason, place)`. `EVENT_STATUS` is what the record of a security event
says (`signals.records`: not an answer, so not in the table). `ABORTED_STATUS` is what the record says a client got when
an upstream's body broke off after the status line was sent (the client got a cut
connection, not that status). Pure module: no I/O library.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from authgate.decision import Decision, Outcome, Reason

Extra = tuple[tuple[str, str], ...]

STATUS: Mapping[Reason, int] = MappingProxyType(
    {
        # Refused before routing: the request line, Host and path, client headers
        # (RFC 9112 §3.2: no Host or two is a 400), and the connection level's checks.
        Reason.REQUEST_INVALID: 400,
        Reason.HOST_INVALID: 400,
        Reason.PATH_INVALID: 400,
        Reason.DUPLICATE_CREDENTIALS: 400,  # docs/headers.md; Envoy CVE-2021-32777
        Reason.OVERRIDE_INVALID: 400,
        Reason.HEADER_TIMEOUT: 408,  # RFC 9110 §15.5.9
        Reason.BODY_TIMEOUT: 408,
        Reason.BODY_TOO_SLOW: 408,
        Reason.BODY_TOO_LARGE: 413,  # RFC 9110 §15.5.14
        Reason.URI_TOO_LONG: 414,  # RFC 9110 §15.5.15
        Reason.HEADERS_TOO_LARGE: 431,  # RFC 6585 §5
        Reason.METHOD_NOT_IMPLEMENTED: 501,  # RFC 9110 §9.1
        Reason.TRANSFER_CODING_UNSUPPORTED: 501,  # RFC 9112 §6.1
        Reason.CONNECTIONS_EXCEEDED: 503,
        Reason.VERSION_NOT_SUPPORTED: 505,  # RFC 9110 §15.6.6
        # No route: the host or path serves nothing, or not with this method.
        Reason.HOST_UNKNOWN: 404,
        Reason.ROUTE_NOT_FOUND: 404,
        Reason.METHOD_NOT_ALLOWED: 405,  # RFC 9110 §15.5.6: with `Allow`
        # Limits (RFC 6585 §4), and a limiter's store that is down on a closed route.
        Reason.RATE_LIMITED: 429,
        Reason.LOGIN_BANNED: 429,
        Reason.RATE_LIMIT_UNAVAILABLE: 503,
        # WebSocket handshakes (RFC 6455 §4.2.1) and their caps.
        Reason.WEBSOCKET_HANDSHAKE_INVALID: 400,
        Reason.WEBSOCKET_VERSION_UNSUPPORTED: 400,  # §4.4, with Sec-WebSocket-Version
        Reason.WEBSOCKET_ORIGIN_DENIED: 403,  # CSWSH (CWE-1385)
        Reason.WEBSOCKET_ORIGIN_MISSING: 403,
        Reason.WEBSOCKET_LIMIT: 429,  # this user or address holds its share already
        # Upstreams (RFC 9110 §15.6.3-5): unreachable, broken, slow, full.
        Reason.UPSTREAM_UNREACHABLE: 502,
        Reason.UPSTREAM_FAILED: 502,
        Reason.UPSTREAM_ABORTED: 502,
        Reason.UPSTREAM_TIMEOUT: 504,
        Reason.UPSTREAM_OVERLOADED: 503,  # shed at once, with Retry-After
        Reason.GATEWAY_ERROR: 500,
        Reason.STORE_UNAVAILABLE: 503,
        # Providers, during a sign-in or a back-channel logout: their failure, not the
        # application's (502 / 504).
        Reason.PROVIDER_UNREACHABLE: 502,
        Reason.PROVIDER_TIMEOUT: 504,
        Reason.PROVIDER_BAD_RESPONSE: 502,
        Reason.PROVIDER_ISSUER_MISMATCH: 502,
        Reason.TOKEN_EXCHANGE_FAILED: 502,
        Reason.USERINFO_FAILED: 502,
        Reason.USERINFO_SUB_MISMATCH: 502,
        # The gateway's own endpoints: what each answers.
        Reason.GATEWAY_ENDPOINT: 200,
        Reason.ENDPOINT_NOT_FOUND: 404,
        Reason.USER_UNAUTHENTICATED: 401,  # userinfo without a session
        Reason.LOGIN_CHOOSER: 200,  # the provider chooser page
        Reason.LOGIN_STARTED: 302,  # off to the provider
        Reason.LOGIN_COMPLETED: 302,  # back to the return URL
        Reason.LOGOUT_CONFIRM: 200,
        Reason.LOGOUT: 303,  # RFC 9110 §15.4.4: the POST's answer is a GET elsewhere
        Reason.BACKCHANNEL_LOGOUT: 200,  # OpenID Back-Channel Logout §2.8
        Reason.CSRF_INVALID: 403,
        Reason.CSRF_CROSS_SITE: 403,
        Reason.PROVIDER_UNKNOWN: 400,
        # A sign-in (or logout token) the client brought that does not hold: 400.
        Reason.LOGIN_FAILED: 400,
        Reason.LOGIN_STATE_MISMATCH: 400,
        Reason.LOGIN_STATE_EXPIRED: 400,
        Reason.LOGIN_STATE_INVALID: 400,
        Reason.LOGIN_PROVIDER_ERROR: 400,
        Reason.LOGIN_CODE_MISSING: 400,
        Reason.LOGIN_ISS_MISMATCH: 400,
        Reason.CODE_REJECTED: 400,  # RFC 6749 §5.2 invalid_grant: injected or replayed
        Reason.STEP_UP_FAILED: 403,
        # Privileged access (authgate.access): a refused request or decision, and the
        # grant events, each a record of its own (no answer: 200).
        Reason.GRANT_REFUSED: 403,
        Reason.GRANT_REQUESTED: 200,
        Reason.GRANT_APPROVED: 200,
        Reason.GRANT_DENIED: 200,
        Reason.GRANT_ACTIVATED: 200,
        Reason.GRANT_EXPIRED: 200,
        Reason.GRANT_REVOKED: 200,
        Reason.GRANT_BREAK_GLASS: 200,
        Reason.TOKEN_MISSING: 400,
        Reason.TOKEN_MALFORMED: 400,
        Reason.TOKEN_ALG_NOT_ALLOWED: 400,
        Reason.TOKEN_SIGNATURE_INVALID: 400,
        Reason.TOKEN_ISSUER_INVALID: 400,
        Reason.TOKEN_AUDIENCE_INVALID: 400,
        Reason.TOKEN_AZP_INVALID: 400,
        Reason.TOKEN_EXPIRED: 400,
        Reason.TOKEN_NOT_YET_VALID: 400,
        Reason.TOKEN_IAT_INVALID: 400,
        Reason.TOKEN_NONCE_INVALID: 400,
        Reason.TOKEN_KID_UNKNOWN: 400,
        Reason.TOKEN_KID_MISSING: 400,
        Reason.TOKEN_CLAIM_MISSING: 400,
        Reason.TOKEN_EVENTS_INVALID: 400,
        Reason.TOKEN_NONCE_PRESENT: 400,
        Reason.TOKEN_REPLAYED: 400,
        Reason.TOKEN_SUBJECT_MISMATCH: 400,
        Reason.TOKEN_TYPE_INVALID: 400,
        Reason.TOKEN_INACTIVE: 400,
        # An opaque token nobody could vouch for: fail closed, and not "log in again"
        # (the token may be fine; RFC 9110 §15.6.4).
        Reason.INTROSPECTION_UNAVAILABLE: 503,
        # Shared Signals push (RFC 8935 §2.2: 202 Accepted; §2.3: every error a 400
        # with an `err` code).
        Reason.SIGNAL_ACCEPTED: 202,
        Reason.SIGNAL_INVALID: 400,
        Reason.SIGNAL_AUTHENTICATION_FAILED: 400,
    }
)


class Place(enum.Enum):
    """Where a reason is answered otherwise than its `STATUS`."""

    DENIED_PAGE = "denied-page"  # /.authgate/denied: a proxy's 403, shown
    FORWARD_AUTH_PEER = "forward-auth-peer"  # /.authgate/auth from an untrusted peer
    LOGOUT_WITHOUT_SESSION = "logout-without-session"  # POST: see the logged-out page
    LOGIN_START = "login-start"  # /.authgate/start sends the browser to the chooser
    LOGIN_CALLBACK = "login-callback"  # the provider's token response
    BACKCHANNEL_LOGOUT = "backchannel-logout"  # a provider's logout token
    WEBSOCKET_ROUTE_FULL = "websocket-route-full"  # a route's WebSocket cap
    ACCESS_FORM = "access-form"  # a form POSTed to /.authgate/access: the page again


AT_PLACE: Mapping[tuple[Reason, Place], int] = MappingProxyType(
    {
        (Reason.GATEWAY_ENDPOINT, Place.DENIED_PAGE): 403,
        (Reason.GATEWAY_ENDPOINT, Place.FORWARD_AUTH_PEER): 403,
        (Reason.GATEWAY_ENDPOINT, Place.LOGOUT_WITHOUT_SESSION): 303,
        (Reason.LOGIN_CHOOSER, Place.LOGIN_START): 302,
        # A token response without an id_token: the provider's fault, not the client's.
        (Reason.TOKEN_MISSING, Place.LOGIN_CALLBACK): 502,
        # §2.8 answers errors with 400 or 501; a provider that is down is a 502 there.
        (Reason.PROVIDER_TIMEOUT, Place.BACKCHANNEL_LOGOUT): 502,
        # The route is full, not this client greedy: try again later (RFC 9110 §15.6.4).
        (Reason.WEBSOCKET_LIMIT, Place.WEBSOCKET_ROUTE_FULL): 503,
        # RFC 9110 §15.4.4: the answer to a form's POST is a GET of the page (303).
        (Reason.GATEWAY_ENDPOINT, Place.ACCESS_FORM): 303,
    }
)

# The upstream's body broke off after its status line went out (`proxy.forward`).
ABORTED_STATUS = 502
# The record of one security event (`signals.records`), whatever it did: not an
# answer to anyone, "accepted" in the RFC 8935 / RFC 8936 sense, pushed or polled.
EVENT_STATUS = 202


def status(reason: Reason, place: Place | None = None) -> int:
    """The status `reason` is answered with (at `place`); KeyError for a policy reason."""
    if place is not None:
        at = AT_PLACE.get((reason, place))
        if at is not None:
            return at
    return STATUS[reason]


def decided(
    outcome: Outcome,
    reason: Reason,
    *,
    route_id: str | None = None,
    rule: str | None = None,
    extra: Extra = (),
    place: Place | None = None,
) -> Decision:
    """A decision of `outcome` for `reason`, with the table's status."""
    return Decision(
        outcome, (reason,), route_id=route_id, rule=rule, status=status(reason, place), extra=extra
    )


def refusal(
    reason: Reason,
    *,
    route_id: str | None = None,
    rule: str | None = None,
    extra: Extra = (),
    place: Place | None = None,
) -> Decision:
    """The request is refused for `reason`."""
    return decided(Outcome.DENY, reason, route_id=route_id, rule=rule, extra=extra, place=place)


def error(reason: Reason, *, route_id: str | None = None, rule: str | None = None) -> Decision:
    """Something the request needed failed (an upstream, a provider, a store)."""
    return decided(Outcome.ERROR, reason, route_id=route_id, rule=rule)


def endpoint(
    name: str,
    reason: Reason,
    outcome: Outcome = Outcome.ALLOW,
    *,
    route_id: str | None = None,
    extra: Extra = (),
    place: Place | None = None,
) -> Decision:
    """The outcome of the gateway's endpoint `name` (rule `endpoint:<name>`)."""
    return decided(
        outcome, reason, route_id=route_id, rule=f"endpoint:{name}", extra=extra, place=place
    )
