"""Reason codes of the policy core: a closed vocabulary of kebab-case pairs.

Contract: every code a policy evaluation, a step-up check or a consent check can
return is a constant here, and the same string is a member of
`authgate.decision.Reason` (checked by a test), so a `PolicyResult` turns into a
`Decision` without a mapping table. Codes come in pairs, one per outcome of a
criterion (`groups-ok` / `groups-unauthorized`); a third `*-unknown` code says a fact
the criterion needs was missing (no geo, no device posture, no risk score), which
never allows and always trips a deny (fail closed).
Pure module.
"""

from __future__ import annotations

from typing import Final

# No identity yet: logging in may change the answer (a redirect or a 401, never 403).
USER_UNAUTHENTICATED: Final = "user-unauthenticated"
USER_AUTHENTICATED: Final = "user-authenticated"
POLICY_NO_MATCH: Final = "policy-no-match"

USER_OK: Final = "user-ok"
USER_UNAUTHORIZED: Final = "user-unauthorized"
EMAIL_OK: Final = "email-ok"
EMAIL_UNAUTHORIZED: Final = "email-unauthorized"
EMAIL_UNVERIFIED: Final = "email-unverified"
EMAIL_MALFORMED: Final = "email-malformed"
EMAIL_DOMAIN_OK: Final = "email-domain-ok"
EMAIL_DOMAIN_UNAUTHORIZED: Final = "email-domain-unauthorized"
GROUPS_OK: Final = "groups-ok"
GROUPS_UNAUTHORIZED: Final = "groups-unauthorized"
ROLES_OK: Final = "roles-ok"
ROLES_UNAUTHORIZED: Final = "roles-unauthorized"
# A groups/roles claim that is not a JSON array of strings: not trusted as membership.
CLAIM_TYPE_MISMATCH: Final = "claim-type-mismatch"
CLAIM_OK: Final = "claim-ok"
CLAIM_UNAUTHORIZED: Final = "claim-unauthorized"
MFA_OK: Final = "mfa-ok"
MFA_REQUIRED: Final = "mfa-required"
ACR_OK: Final = "acr-ok"
ACR_INSUFFICIENT: Final = "acr-insufficient"
AMR_OK: Final = "amr-ok"
AMR_INSUFFICIENT: Final = "amr-insufficient"
AUTH_AGE_OK: Final = "auth-age-ok"
AUTH_AGE_EXPIRED: Final = "auth-age-expired"
COUNTRY_OK: Final = "country-ok"
COUNTRY_UNAUTHORIZED: Final = "country-unauthorized"
COUNTRY_UNKNOWN: Final = "country-unknown"
IP_OK: Final = "ip-ok"
IP_UNAUTHORIZED: Final = "ip-unauthorized"
IP_UNKNOWN: Final = "ip-unknown"
DEVICE_OK: Final = "device-ok"
DEVICE_UNAUTHORIZED: Final = "device-unauthorized"
DEVICE_UNKNOWN: Final = "device-unknown"
TIME_OK: Final = "time-ok"
TIME_UNAUTHORIZED: Final = "time-unauthorized"
METHOD_OK: Final = "method-ok"
METHOD_UNAUTHORIZED: Final = "method-unauthorized"
PATH_OK: Final = "path-ok"
PATH_UNAUTHORIZED: Final = "path-unauthorized"
RISK_OK: Final = "risk-ok"
RISK_TOO_HIGH: Final = "risk-too-high"
RISK_UNKNOWN: Final = "risk-unknown"
# OAuth scopes of a bearer token (`scope` / `scp`); a refusal is RFC 6750 insufficient_scope.
SCOPES_OK: Final = "scopes-ok"
SCOPES_INSUFFICIENT: Final = "scopes-insufficient"
CONSENT_OK: Final = "consent-ok"
CONSENT_REQUIRED: Final = "consent-required"
# An active grant of a named entitlement (docs/privileged-access.md); unknown: the
# grant store could not be read.
ENTITLEMENT_OK: Final = "entitlement-ok"
ENTITLEMENT_REQUIRED: Final = "entitlement-required"
ENTITLEMENT_UNKNOWN: Final = "entitlement-unknown"
# The provider came back from a step-up without the level, method or freshness asked.
STEP_UP_FAILED: Final = "step-up-failed"

ALL: Final = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)
