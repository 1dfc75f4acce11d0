"""One DPoP proof JWT checked against the request it came with (RFC 9449 §4.3).

Contract: `verify_proof(proof, expect, now)` returns the `Proof` (the RFC 7638
thumbprint of its key, its `jti`, `iat` and `nonce`), or raises `ProofInvalid` with
a `Reason` and a detail. No I/O: the `jti` replay cache, the nonce and the
token's `cnf.jkt` are the caller's (`resource.binding`). Checks, in §4.3's order:

1-3. one compact JWS whose header holds `typ`, `alg`, `jwk`, whose payload is a JSON
     object with `jti`, `htm`, `htu`, `iat` (and `ath` when a token comes with it).
4.   `typ` is `dpop+jwt` (RFC 8725 §3.11: a token typed for another use never passes).
5.   `alg` is in the route's allow-list, checked BEFORE the key is read: asymmetric
     only, so `none` and HS* are refused whatever the header's `jwk` says (an HMAC
     "key" in a header is public; RFC 8725 §3.1).
6-7. `jwk` is a public asymmetric key — a private part (`d`, `p`, ...) or a
     symmetric `oct` key is refused (§4.3 step 7) — and the signature verifies
     with it (joserfc, with exactly that one algorithm).
8.   `htm` is the request's method, exactly (RFC 9110 §9.1: methods are case-sensitive).
9.   `htu` is the request's URL without query and fragment, both sides normalized
     (RFC 3986 §6.2.2-6.2.3: scheme and host lowercased, the default port dropped,
     the path as `routing.normalize_path` makes it — the path routes match and the
     upstream gets), so `HTTPS://API.example.com:443/a/./b` is `https://api.example.com/a/b`.
11.  `iat` is within [now - max_age, now + skew] (§11.1).
12.  `ath` is the base64url SHA-256 of the access token (§4.2), compared in constant time.
The public key's thumbprint is returned; the caller compares it with `cnf.jkt`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from authgate.config.schema_types import ALLOWED_ALGORITHMS
from authgate.decision import Reason
from authgate.routing import PathRejected, normalize_path

PROOF_TYPE = "dpop+jwt"


class _ProofRegistry(jws.JWSRegistry):
    # joserfc's default caps a protected header at 512 bytes: an RSA-2048 public JWK in
    # the `jwk` header (RFC 9449 §4.2) is past it. 4 KiB holds RSA-4096.
    max_header_length = 4096
    max_payload_length = 4096


_PARSE = _ProofRegistry()
# One registry per algorithm: the signature is verified with exactly the `alg` that
# was checked against the allow-list, never a list an attacker could pick from.
_VERIFY = {alg: _ProofRegistry(algorithms=[alg]) for alg in ALLOWED_ALGORITHMS}
_MAX_PROOF = 8192  # bytes: an RSA-4096 jwk and a few claims fit well within it
_MAX_JTI = 256
_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 7517 §4 / RFC 7518 §6: the members a private (or symmetric) JWK carries.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class ProofInvalid(Exception):
    """A DPoP proof that does not hold: `reason` for the record, `detail` for the log."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Expected:
    """What the proof must say about the request it came with."""

    method: str
    url: str  # scheme://authority/path of the request (no query), as received
    algorithms: Collection[str]
    max_age: float
    skew: float
    access_token: str | None = None  # with a token, `ath` is required


@dataclass(frozen=True, slots=True)
class Proof:
    jkt: str  # RFC 7638 SHA-256 thumbprint of the proof's public key
    jti: str
    iat: float
    nonce: str | None


def verify_proof(proof: str, expect: Expected, now: float) -> Proof:
    if len(proof) > _MAX_PROOF:
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "too long")
    header = _header(proof)
    alg = header.get("alg")
    if header.get("typ") != PROOF_TYPE:
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, f"typ {header.get('typ')!r}")
    if not isinstance(alg, str) or alg not in expect.algorithms or alg not in ALLOWED_ALGORITHMS:
        raise ProofInvalid(Reason.DPOP_ALG_NOT_ALLOWED, f"alg {alg!r}")
    key = _public_key(header.get("jwk"))
    claims = _verified_claims(proof, key, alg)
    _check_request(claims, expect)
    iat = _iat(claims, expect, now)
    if expect.access_token is not None:
        _check_ath(claims, expect.access_token)
    nonce = claims.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "nonce is not a string")
    return Proof(key.thumbprint(), _jti(claims), iat, nonce)


def token_hash(access_token: str) -> str:
    """`ath`: base64url(SHA-256(ASCII(token))), unpadded (RFC 9449 §4.2)."""
    digest = hashlib.sha256(access_token.encode("ascii", "surrogateescape")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def normalize_htu(url: str) -> str | None:
    """The comparable form of an http(s) URL without query or fragment, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    try:
        path = normalize_path(parts.path or "/")
    except PathRejected:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{authority}{path}"


# ---------------------------------------------------------------- pieces


def _header(proof: str) -> dict[str, Any]:
    try:
        compact = jws.extract_compact(proof.encode("ascii"), registry=_PARSE)
    except (JoseError, ValueError, UnicodeEncodeError) as error:
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, f"not a compact JWS: {error}") from None
    return dict(compact.protected)


def _public_key(jwk: object) -> Any:
    if not isinstance(jwk, Mapping):
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "no jwk header")
    # §4.3 step 7: the header carries the client's PUBLIC key; a private one (or a
    # symmetric `oct` key, which is all secret) is a client bug or an attack on it.
    if jwk.get("kty") == "oct" or _PRIVATE_MEMBERS & set(jwk):
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "jwk holds a private or symmetric key")
    try:
        key = JWKRegistry.import_key(dict(jwk))
    except (JoseError, ValueError, TypeError) as error:
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, f"jwk: {error}") from None
    if key.is_private:
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "jwk holds a private key")
    return key


def _verified_claims(proof: str, key: Any, alg: str) -> dict[str, Any]:
    try:
        payload = jws.deserialize_compact(proof, key, registry=_VERIFY[alg]).payload
    except (JoseError, ValueError) as error:
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, f"signature: {error}") from None
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "payload is not JSON") from None
    if not isinstance(claims, dict):
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "payload is not a JSON object")
    return claims


def _check_request(claims: Mapping[str, Any], expect: Expected) -> None:
    htm, htu = claims.get("htm"), claims.get("htu")
    if not isinstance(htm, str) or not isinstance(htu, str):
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "htm or htu missing")
    if htm != expect.method:
        raise ProofInvalid(Reason.DPOP_HTM_MISMATCH, f"htm {htm!r}")
    # §4.3 step 9: compared without query and fragment.
    claimed = normalize_htu(htu.partition("#")[0].partition("?")[0])
    if claimed is None or claimed != normalize_htu(expect.url):
        raise ProofInvalid(Reason.DPOP_HTU_MISMATCH, f"htu {htu!r}")


def _iat(claims: Mapping[str, Any], expect: Expected, now: float) -> float:
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or not math.isfinite(iat):
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "iat missing or not a number")
    if iat < now - expect.max_age:
        raise ProofInvalid(Reason.DPOP_IAT_INVALID, f"stale by {now - iat:.0f} s")
    if iat > now + expect.skew:
        raise ProofInvalid(Reason.DPOP_IAT_INVALID, f"{iat - now:.0f} s in the future")
    return float(iat)


def _check_ath(claims: Mapping[str, Any], access_token: str) -> None:
    ath = claims.get("ath")
    if not isinstance(ath, str):
        raise ProofInvalid(Reason.DPOP_ATH_MISMATCH, "no ath")
    if not hmac.compare_digest(ath.encode(), token_hash(access_token).encode()):
        raise ProofInvalid(Reason.DPOP_ATH_MISMATCH, "ath is not this token's")


def _jti(claims: Mapping[str, Any]) -> str:
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI:
        raise ProofInvalid(Reason.DPOP_PROOF_INVALID, "jti missing, empty or too long")
    return jti
