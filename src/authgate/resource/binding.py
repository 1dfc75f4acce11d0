"""A validated access token's binding checked against the request (`cnf`).

Contract: `check_binding(presented, claims, request, bearer, state)` answers a
`Binding`: `failure` None when the token may be used on this request, else the
reason; `headers` to add to the answer (`DPoP-Nonce`, with `dpop_nonce`, on every
answer to a validated token: the nonce the next proof should carry, §8.2). Called after the token's
signature and claims held (`server/authenticate.py`), so `cnf` is the issuer's word.

- DPoP (RFC 9449): a token with `cnf.jkt` is bound to a key, and must come as
  `Authorization: DPoP <token>` with one `DPoP` proof header (§7.1: a bound token
  sent as `Bearer` is refused — else binding would protect nothing); the proof is
  checked by `resource.dpop`, its key's thumbprint must be `cnf.jkt` (§6.1), its
  `jti` unseen in the store for as long as its `iat` may be accepted (§11.1:
  `remember_once`, shared by every replica on a Redis store), and with
  `dpop_nonce` its `nonce` one the gateway issued (§9; `use_dpop_nonce` with a
  fresh `DPoP-Nonce` otherwise). On a `dpop: required` route an unbound token is
  refused (`dpop-required`); with `dpop: off` the DPoP scheme is not accepted. A
  DPoP scheme with a token that has no `cnf.jkt` is refused: the proof binds
  nothing and the client believes otherwise.
- mTLS (RFC 8705 §3): a token with `cnf.x5t#S256` is bound to a client certificate
  and is good only on a TLS connection that presented a certificate whose SHA-256
  (base64url, of the DER) is that value; the listener verified the certificate
  (`devices.mtls`), this checks it is the token's.
Store failures raise `StoreUnavailable` (the caller answers 503, as for sessions).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from authgate.config.schema_auth import BearerConfig
from authgate.decision import Reason
from authgate.resource.dpop import Expected, ProofInvalid, verify_proof
from authgate.resource.nonce import DpopNonces
from authgate.sessions.store import SessionStore

Scheme = Literal["bearer", "dpop"]
DPOP_HEADER = "DPoP"
NONCE_HEADER = "DPoP-Nonce"


@dataclass(frozen=True, slots=True)
class Presented:
    """The credential as the request carried it."""

    scheme: Scheme
    token: str
    proofs: tuple[str, ...]  # every `DPoP` header value (one is allowed)


@dataclass(frozen=True, slots=True)
class RequestTarget:
    method: str
    url: str  # scheme://authority/normalized-path: what `htu` must name
    certificate: bytes | None  # the TLS client certificate (DER), if any


@dataclass(frozen=True, slots=True)
class BindingState:
    store: SessionStore
    nonces: DpopNonces | None
    now: float


@dataclass(frozen=True, slots=True)
class Binding:
    failure: Reason | None = None
    headers: tuple[tuple[str, str], ...] = ()
    detail: str = ""


def certificate_of(ssl_object: ssl.SSLObject | None) -> bytes | None:
    """The DER client certificate the TLS handshake verified, or None."""
    if ssl_object is None:
        return None
    return ssl_object.getpeercert(binary_form=True) or None


async def check_binding(
    presented: Presented,
    claims: Mapping[str, Any],
    request: RequestTarget,
    bearer: BearerConfig,
    state: BindingState,
) -> Binding:
    cnf = claims.get("cnf")
    cnf = cnf if isinstance(cnf, Mapping) else {}
    nonce = _nonce_headers(bearer, state)  # on every answer: the next one to use (§8.2)
    mtls = _mtls(cnf, request.certificate)
    if mtls is not None:
        return mtls
    jkt = cnf.get("jkt")
    if presented.scheme == "bearer":
        if jkt is not None:  # §7.1: a DPoP-bound token is never a plain bearer token
            return Binding(Reason.DPOP_PROOF_MISSING, nonce, "bound token sent as Bearer")
        if bearer.dpop == "required":
            return Binding(Reason.DPOP_REQUIRED, nonce, "Bearer scheme")
        return Binding(None, nonce)
    if bearer.dpop == "off":
        return Binding(Reason.DPOP_NOT_ACCEPTED, (), "dpop: off")
    if not isinstance(jkt, str):
        return Binding(Reason.DPOP_KEY_MISMATCH, nonce, "token has no cnf.jkt")
    return await _check_proof(presented, jkt, request, bearer, state, nonce)


async def _check_proof(
    presented: Presented,
    jkt: str,
    request: RequestTarget,
    bearer: BearerConfig,
    state: BindingState,
    nonce: tuple[tuple[str, str], ...],
) -> Binding:
    if len(presented.proofs) != 1:  # §4.3 step 1: exactly one DPoP header
        reason = Reason.DPOP_PROOF_MISSING if not presented.proofs else Reason.DPOP_PROOF_INVALID
        return Binding(reason, nonce, f"{len(presented.proofs)} DPoP headers")
    expect = Expected(
        request.method,
        request.url,
        bearer.dpop_algorithms,
        bearer.dpop_max_age,
        bearer.dpop_skew,
        access_token=presented.token,
    )
    try:
        proof = verify_proof(presented.proofs[0], expect, state.now)
    except ProofInvalid as invalid:
        return Binding(invalid.reason, nonce, invalid.detail)
    if not hmac.compare_digest(proof.jkt.encode(), jkt.encode()):  # §6.1 / §7.1
        return Binding(Reason.DPOP_KEY_MISMATCH, nonce, "proof key is not cnf.jkt")
    if state.nonces is not None and bearer.dpop_nonce and not (
        proof.nonce and state.nonces.fresh(proof.nonce, state.now, bearer.dpop_max_age, bearer.dpop_skew)
    ):
        return Binding(Reason.DPOP_NONCE_REQUIRED, nonce, "no nonce, or not a fresh one of ours")
    # §11.1: a proof is accepted once. Checked last, so a refused proof does not
    # burn its jti; kept as long as its iat could still be accepted.
    ttl = bearer.dpop_max_age + bearer.dpop_skew + 1.0
    if not await state.store.remember_once(f"dpop-jti:{_digest(proof.jkt + ' ' + proof.jti)}", ttl):
        return Binding(Reason.DPOP_REPLAYED, nonce, "jti seen before")
    return Binding(None, nonce)


def _nonce_headers(bearer: BearerConfig, state: BindingState) -> tuple[tuple[str, str], ...]:
    if not bearer.dpop_nonce or state.nonces is None or bearer.dpop == "off":
        return ()
    return ((NONCE_HEADER, state.nonces.issue(state.now)),)


def _mtls(cnf: Mapping[str, Any], certificate: bytes | None) -> Binding | None:
    expected = cnf.get("x5t#S256")
    if expected is None:
        return None
    if certificate is None:
        return Binding(Reason.MTLS_CERTIFICATE_MISSING, (), "no client certificate")
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(certificate).digest()).rstrip(b"=")
    if not isinstance(expected, str) or not hmac.compare_digest(thumbprint, expected.encode()):
        return Binding(Reason.MTLS_CERTIFICATE_MISMATCH, (), "certificate is not cnf.x5t#S256")
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
