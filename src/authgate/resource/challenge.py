"""The `WWW-Authenticate` answers of a route that takes bearer tokens.

Contract: `BearerChallenge.of(route, scheme, authority)` is what a challenge needs
from the route (its `resource_metadata` URL, its DPoP mode and algorithms);
`unauthorized(decision, bearer)` renders a 401's header, `insufficient_scope(...)`
a 403's. Every challenge names `resource_metadata` (RFC 9728 §5.1), so a client
that knows only the URL finds the provider. The schemes offered follow `dpop`:
`Bearer` unless `required`, `DPoP` (with `algs`, RFC 9449 §7.1) unless `off`.
Errors, by the reason that decided:

| reason                                   | scheme | error                             |
|------------------------------------------|--------|-----------------------------------|
| token-* (signature, expiry, audience...) | both   | invalid_token (RFC 6750 §3.1)     |
| dpop-nonce-required                      | DPoP   | use_dpop_nonce (RFC 9449 §9)      |
| dpop-proof-missing, dpop-required        | DPoP   | invalid_token (§7.1: bound, or DPoP only) |
| any other dpop-* (the proof)             | DPoP   | invalid_dpop_proof (§7.1)         |
| dpop-not-accepted (`dpop: off`)          | Bearer | invalid_request (RFC 6750 §3.1)   |
| mtls-*                                   | Bearer | invalid_token (RFC 8705 §3)       |
| step-up                                  | Bearer | insufficient_user_authentication (RFC 9470) |
| a policy's scopes (403)                  | as sent| insufficient_scope, scope (RFC 6750 §3.1) |

`error_description` is the reason code: stable, and it says nothing the client
does not know. Pure module: no I/O library.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate.config.schema_bearer import DpopMode
from authgate.decision import Decision, Outcome, Reason
from authgate.resource.identifier import metadata_url
from authgate.routing import Route

REALM = 'realm="authgate"'
_DPOP_TOKEN_ERRORS = frozenset({Reason.DPOP_PROOF_MISSING, Reason.DPOP_REQUIRED})


@dataclass(frozen=True, slots=True)
class BearerChallenge:
    resource_metadata: str
    dpop: DpopMode
    algorithms: tuple[str, ...]

    @classmethod
    def of(cls, route: Route, scheme: str, authority: str) -> BearerChallenge | None:
        """None for a route that takes no bearer token."""
        bearer = route.config.bearer
        if bearer is None or "bearer" not in route.config.authenticate:
            return None
        url = metadata_url(route, scheme, authority)
        return cls(url, bearer.dpop, tuple(bearer.dpop_algorithms))


def unauthorized(decision: Decision, bearer: BearerChallenge) -> str:
    """A 401's challenges: the scheme the reason concerns carries the error."""
    if decision.outcome is Outcome.STEP_UP:
        return _join(_bearer(bearer, _step_up(decision)), _dpop(bearer, ""))
    reason = next((r for r in decision.reasons if _is_credential_reason(r)), None)
    error = "" if reason is None else f'error="{_error(reason)}", error_description="{reason.value}"'
    if reason is not None and reason.value.startswith("dpop-") and bearer.dpop != "off":
        return _join(_bearer(bearer, ""), _dpop(bearer, error))
    return _join(_bearer(bearer, error), _dpop(bearer, error if reason else ""))


def insufficient_scope(scope: str, bearer: BearerChallenge, scheme: str) -> str:
    """A 403 for a token short of scopes, in the scheme the token came with."""
    error = f'error="insufficient_scope", scope="{scope}"'
    if scheme == "dpop":
        return _dpop(bearer, error) or _bearer(bearer, error)
    return _bearer(bearer, error) or _dpop(bearer, error)


def _is_credential_reason(reason: Reason) -> bool:
    return reason.value.startswith(("token-", "dpop-", "mtls-"))


def _error(reason: Reason) -> str:
    if reason is Reason.DPOP_NONCE_REQUIRED:
        return "use_dpop_nonce"
    if reason is Reason.DPOP_NOT_ACCEPTED:  # RFC 6750 §3.1: a method not supported here
        return "invalid_request"
    if reason.value.startswith("dpop-") and reason not in _DPOP_TOKEN_ERRORS:
        return "invalid_dpop_proof"
    return "invalid_token"


def _step_up(decision: Decision) -> str:
    extra = dict(decision.extra)
    error = 'error="insufficient_user_authentication"'
    if "acr_values" in extra:
        error += f', acr_values="{extra["acr_values"]}"'
    if "max_age" in extra:
        error += f", max_age={extra['max_age']}"
    return error


def _bearer(bearer: BearerChallenge, error: str) -> str:
    if bearer.dpop == "required":
        return ""
    return _params("Bearer", REALM, error, f'resource_metadata="{bearer.resource_metadata}"')


def _dpop(bearer: BearerChallenge, error: str) -> str:
    if bearer.dpop == "off":
        return ""
    algs = f'algs="{" ".join(bearer.algorithms)}"'
    return _params("DPoP", REALM, error, algs, f'resource_metadata="{bearer.resource_metadata}"')


def _params(scheme: str, *params: str) -> str:
    return f"{scheme} " + ", ".join(param for param in params if param)


def _join(*challenges: str) -> str:
    return ", ".join(challenge for challenge in challenges if challenge)
