"""The decision value: what the gateway does with one request, and why.

Contract: a `Decision` is frozen. The proxy enforces exactly this object and the
decision log writes exactly this object; no code path answers a request without one.
Reasons are a closed vocabulary of short kebab-case codes (STYLE.md, lesson 2).
Pure module: no aiohttp, redis or authlib imports.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Outcome(enum.StrEnum):
    """What the gateway does with the request."""

    ALLOW = "allow"
    DENY = "deny"
    LOGIN = "login"
    STEP_UP = "step_up"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


class Reason(enum.StrEnum):
    """Closed set of reason codes; each names the fact that decided."""

    ROUTE_PUBLIC = "route-public"
    ROUTE_NOT_FOUND = "route-not-found"
    HOST_UNKNOWN = "host-unknown"
    HOST_INVALID = "host-invalid"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    PATH_INVALID = "path-invalid"
    USER_UNAUTHENTICATED = "user-unauthenticated"
    UPSTREAM_UNREACHABLE = "upstream-unreachable"
    UPSTREAM_TIMEOUT = "upstream-timeout"
    UPSTREAM_FAILED = "upstream-failed"
    UPSTREAM_ABORTED = "upstream-aborted"
    GATEWAY_ERROR = "gateway-error"
    # identity
    USER_AUTHENTICATED = "user-authenticated"
    SESSION_EXPIRED = "session-expired"
    STORE_UNAVAILABLE = "store-unavailable"
    PROVIDER_NOT_ACCEPTED = "provider-not-accepted"
    SESSION_INVALID = "session-invalid"
    # continuous access evaluation (docs/continuous.md): why a session or a connection
    # of it was re-evaluated, ended or closed after its login
    REFRESH_IDENTITY_MISMATCH = "refresh-identity-mismatch"
    SESSION_REVOKED_BY_PROVIDER = "session-revoked-by-provider"
    REVERIFY_FAILED = "reverify-failed"
    REVERIFY_DEFERRED = "reverify-deferred"
    GROUPS_CHANGED = "groups-changed"
    IDENTITY_CHANGED = "identity-changed"
    SESSION_ENDED = "session-ended"
    POLICY_CHANGED = "policy-changed"
    # the gateway's own endpoints
    GATEWAY_ENDPOINT = "gateway-endpoint"
    ENDPOINT_NOT_FOUND = "endpoint-not-found"
    LOGIN_STARTED = "login-started"
    LOGIN_COMPLETED = "login-completed"
    LOGIN_CHOOSER = "login-chooser"
    LOGOUT = "logout"
    BACKCHANNEL_LOGOUT = "backchannel-logout"
    LOGOUT_CONFIRM = "logout-confirm"
    CSRF_INVALID = "csrf-invalid"
    CSRF_CROSS_SITE = "csrf-cross-site"
    # login failures (authgate.oidc.flow)
    LOGIN_FAILED = "login-failed"
    LOGIN_STATE_MISMATCH = "login-state-mismatch"
    LOGIN_STATE_EXPIRED = "login-state-expired"
    LOGIN_PROVIDER_ERROR = "login-provider-error"
    LOGIN_CODE_MISSING = "login-code-missing"
    LOGIN_ISS_MISMATCH = "login-iss-mismatch"
    LOGIN_STATE_INVALID = "login-state-invalid"
    PROVIDER_UNKNOWN = "provider-unknown"
    CODE_REJECTED = "code-rejected"
    # provider calls (authgate.oidc.client)
    PROVIDER_UNREACHABLE = "provider-unreachable"
    PROVIDER_TIMEOUT = "provider-timeout"
    PROVIDER_BAD_RESPONSE = "provider-bad-response"
    TOKEN_EXCHANGE_FAILED = "token-exchange-failed"
    PROVIDER_ISSUER_MISMATCH = "provider-issuer-mismatch"
    USERINFO_FAILED = "userinfo-failed"
    USERINFO_SUB_MISMATCH = "userinfo-sub-mismatch"
    # token validation (authgate.oidc.tokens)
    TOKEN_MISSING = "token-missing"
    TOKEN_MALFORMED = "token-malformed"
    TOKEN_ALG_NOT_ALLOWED = "token-alg-not-allowed"
    TOKEN_SIGNATURE_INVALID = "token-signature-invalid"
    TOKEN_ISSUER_INVALID = "token-issuer-invalid"
    TOKEN_AUDIENCE_INVALID = "token-audience-invalid"
    TOKEN_AZP_INVALID = "token-azp-invalid"
    TOKEN_EXPIRED = "token-expired"
    TOKEN_NOT_YET_VALID = "token-not-yet-valid"
    TOKEN_IAT_INVALID = "token-iat-invalid"
    TOKEN_NONCE_INVALID = "token-nonce-invalid"
    TOKEN_KID_UNKNOWN = "token-kid-unknown"
    TOKEN_KID_MISSING = "token-kid-missing"
    TOKEN_CLAIM_MISSING = "token-claim-missing"
    TOKEN_EVENTS_INVALID = "token-events-invalid"
    TOKEN_NONCE_PRESENT = "token-nonce-present"
    TOKEN_REPLAYED = "token-replayed"
    TOKEN_SUBJECT_MISMATCH = "token-subject-mismatch"
    TOKEN_TYPE_INVALID = "token-type-invalid"
    TOKEN_INACTIVE = "token-inactive"  # RFC 7662: the provider says active: false
    INTROSPECTION_UNAVAILABLE = "introspection-unavailable"  # it could not say
    # sender-constrained bearer tokens (authgate.resource: DPoP RFC 9449, mTLS RFC 8705)
    DPOP_PROOF_MISSING = "dpop-proof-missing"  # a DPoP-bound token without its proof
    DPOP_PROOF_INVALID = "dpop-proof-invalid"  # not a DPoP proof JWT (typ, jwk, signature)
    DPOP_ALG_NOT_ALLOWED = "dpop-alg-not-allowed"
    DPOP_HTM_MISMATCH = "dpop-htm-mismatch"
    DPOP_HTU_MISMATCH = "dpop-htu-mismatch"
    DPOP_IAT_INVALID = "dpop-iat-invalid"  # stale, or from the future
    DPOP_REPLAYED = "dpop-replayed"
    DPOP_ATH_MISMATCH = "dpop-ath-mismatch"  # missing, or not this token's hash
    DPOP_KEY_MISMATCH = "dpop-key-mismatch"  # the proof's key is not the token's cnf.jkt
    DPOP_NONCE_REQUIRED = "dpop-nonce-required"  # use_dpop_nonce: none, or not ours any more
    DPOP_REQUIRED = "dpop-required"  # the route takes DPoP-bound tokens only
    DPOP_NOT_ACCEPTED = "dpop-not-accepted"  # the DPoP scheme on a route with dpop: off
    MTLS_CERTIFICATE_MISSING = "mtls-certificate-missing"  # a cnf.x5t#S256 token, no certificate
    MTLS_CERTIFICATE_MISMATCH = "mtls-certificate-mismatch"
    # policy (authgate.policy.reasons: pairs per criterion, `*-unknown` = fact missing)
    POLICY_NO_MATCH = "policy-no-match"
    USER_OK = "user-ok"
    USER_UNAUTHORIZED = "user-unauthorized"
    EMAIL_OK = "email-ok"
    EMAIL_UNAUTHORIZED = "email-unauthorized"
    EMAIL_UNVERIFIED = "email-unverified"
    EMAIL_MALFORMED = "email-malformed"
    EMAIL_DOMAIN_OK = "email-domain-ok"
    EMAIL_DOMAIN_UNAUTHORIZED = "email-domain-unauthorized"
    GROUPS_OK = "groups-ok"
    GROUPS_UNAUTHORIZED = "groups-unauthorized"
    ROLES_OK = "roles-ok"
    ROLES_UNAUTHORIZED = "roles-unauthorized"
    CLAIM_TYPE_MISMATCH = "claim-type-mismatch"
    CLAIM_OK = "claim-ok"
    CLAIM_UNAUTHORIZED = "claim-unauthorized"
    MFA_OK = "mfa-ok"
    MFA_REQUIRED = "mfa-required"
    ACR_OK = "acr-ok"
    ACR_INSUFFICIENT = "acr-insufficient"
    AMR_OK = "amr-ok"
    AMR_INSUFFICIENT = "amr-insufficient"
    AUTH_AGE_OK = "auth-age-ok"
    AUTH_AGE_EXPIRED = "auth-age-expired"
    COUNTRY_OK = "country-ok"
    COUNTRY_UNAUTHORIZED = "country-unauthorized"
    COUNTRY_UNKNOWN = "country-unknown"
    IP_OK = "ip-ok"
    IP_UNAUTHORIZED = "ip-unauthorized"
    IP_UNKNOWN = "ip-unknown"
    DEVICE_OK = "device-ok"
    DEVICE_UNAUTHORIZED = "device-unauthorized"
    DEVICE_UNKNOWN = "device-unknown"
    TIME_OK = "time-ok"
    TIME_UNAUTHORIZED = "time-unauthorized"
    METHOD_OK = "method-ok"
    METHOD_UNAUTHORIZED = "method-unauthorized"
    PATH_OK = "path-ok"
    PATH_UNAUTHORIZED = "path-unauthorized"
    RISK_OK = "risk-ok"
    RISK_TOO_HIGH = "risk-too-high"
    RISK_UNKNOWN = "risk-unknown"
    RISK_STEP_UP = "risk-step-up"
    # limits
    RATE_LIMITED = "rate-limited"
    RATE_LIMIT_UNCHECKED = "rate-limit-unchecked"
    RATE_LIMIT_UNAVAILABLE = "rate-limit-unavailable"
    LOGIN_BANNED = "login-banned"
    UPSTREAM_OVERLOADED = "upstream-overloaded"
    RISK_DENY = "risk-deny"
    SCOPES_OK = "scopes-ok"
    SCOPES_INSUFFICIENT = "scopes-insufficient"
    CONSENT_OK = "consent-ok"
    CONSENT_REQUIRED = "consent-required"
    STEP_UP_FAILED = "step-up-failed"
    # privileged access (authgate.access): the criterion, and one code per grant event
    ENTITLEMENT_OK = "entitlement-ok"
    ENTITLEMENT_REQUIRED = "entitlement-required"
    ENTITLEMENT_UNKNOWN = "entitlement-unknown"
    GRANT_REQUESTED = "grant-requested"
    GRANT_APPROVED = "grant-approved"
    GRANT_DENIED = "grant-denied"
    GRANT_ACTIVATED = "grant-activated"
    GRANT_EXPIRED = "grant-expired"
    GRANT_REVOKED = "grant-revoked"
    GRANT_BREAK_GLASS = "grant-break-glass"
    GRANT_REFUSED = "grant-refused"
    # WebSockets (RFC 6455; authgate.proxy.handshake, authgate.origins)
    WEBSOCKET_HANDSHAKE_INVALID = "websocket-handshake-invalid"
    WEBSOCKET_VERSION_UNSUPPORTED = "websocket-version-unsupported"
    WEBSOCKET_ORIGIN_DENIED = "websocket-origin-denied"
    WEBSOCKET_ORIGIN_MISSING = "websocket-origin-missing"
    WEBSOCKET_LIMIT = "websocket-limit"
    WEBSOCKET_MESSAGE_TOO_BIG = "websocket-message-too-big"
    # client headers (docs/headers.md)
    DUPLICATE_CREDENTIALS = "duplicate-credentials"
    OVERRIDE_INVALID = "override-invalid"
    # the connection level (authgate.conn): slow, greedy or malformed requests
    HEADER_TIMEOUT = "header-timeout"
    BODY_TIMEOUT = "body-timeout"
    BODY_TOO_SLOW = "body-too-slow"
    BODY_TOO_LARGE = "body-too-large"
    HEADERS_TOO_LARGE = "headers-too-large"
    URI_TOO_LONG = "uri-too-long"
    CONNECTIONS_EXCEEDED = "connections-exceeded"
    REQUEST_INVALID = "request-invalid"
    METHOD_NOT_IMPLEMENTED = "method-not-implemented"
    TRANSFER_CODING_UNSUPPORTED = "transfer-coding-unsupported"
    VERSION_NOT_SUPPORTED = "version-not-supported"
    # Shared Signals (authgate.signals): the push endpoint's answers ...
    SIGNAL_ACCEPTED = "signal-accepted"
    SIGNAL_INVALID = "signal-invalid"
    SIGNAL_AUTHENTICATION_FAILED = "signal-authentication-failed"
    # ... and what one security event did (a record per event, push or poll; also
    # session-revoked-by-provider, above)
    CREDENTIAL_CHANGED = "credential-changed"
    CREDENTIAL_COMPROMISED = "credential-compromised"
    CLAIMS_CHANGED = "claims-changed"
    ASSURANCE_DOWNGRADED = "assurance-downgraded"
    ACCOUNT_DISABLED = "account-disabled"
    ACCOUNT_PURGED = "account-purged"
    SIGNAL_ACKNOWLEDGED = "signal-acknowledged"
    SIGNAL_EVENT_UNKNOWN = "signal-event-unknown"
    SIGNAL_SUBJECT_UNKNOWN = "signal-subject-unknown"


def reason_of(code: str, fallback: Reason) -> Reason:
    """The reason for a code raised by a lower layer; unknown codes map to `fallback`."""
    try:
        return Reason(code)
    except ValueError:
        return fallback


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision: outcome, the reasons that decided it, the route and the rule."""

    outcome: Outcome
    reasons: tuple[Reason, ...]
    route_id: str | None = None
    rule: str | None = None
    status: int = 200
    extra: tuple[tuple[str, str], ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def reason(self) -> str:
        """The reasons joined for logs and pages (`route-not-found`)."""
        return ",".join(r.value for r in self.reasons)
