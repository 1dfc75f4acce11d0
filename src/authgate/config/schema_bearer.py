"""Schema of a bearer route's resource-server keys: RFC 9728 metadata, DPoP, binding.

Contract: shapes, named defaults and local rules only (offline, pure);
`BearerResourceFields` is mixed into `BearerConfig` (`routes[i].bearer`). What each
key does is in docs/agents.md; `authgate.resource` acts on them.

- `resource`: the route's RFC 9728 resource identifier (an absolute URL, no query or
  fragment: RFC 9728 §1.2, RFC 8707 §2). Unset: the request's origin and the route's
  `match.path_prefix` (`https://api.example.com/mcp`).
- `dpop`: `off` (the `DPoP` scheme is not accepted here), `allowed` (default: plain
  bearer tokens and DPoP-bound ones both count; RFC 9449 §7.1 lets a resource accept
  both) or `required` (only DPoP-bound tokens with a valid proof). A token bound by
  `cnf.jkt` needs its proof in every mode: a bound token sent as a plain bearer is
  refused (§7.1), or binding would mean nothing.
- `dpop_algorithms`: the proof's `alg` allow-list (asymmetric only: `none` and HMAC
  never — a proof's key is the client's public key, an HMAC "key" would be public).
- `dpop_max_age` / `dpop_skew`: a proof's `iat` may lie this far in the past / future
  (RFC 9449 §11.1: "a reasonable window"); the `jti` replay cache keeps each proof
  this long.
- `dpop_nonce`: proofs must carry a nonce this gateway issued (RFC 9449 §9), served in
  `DPoP-Nonce`; stateless (an HMAC of the time under a key derived from
  `secrets.cookie_secret`), so every replica accepts every other's nonces.
- `forward_dpop`: the `DPoP` header goes upstream too (default: only the credential
  the gateway validated, `Authorization`, reaches the upstream).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator

from authgate.config.schema_types import ALLOWED_ALGORITHMS, Duration, Strict

DpopMode = Literal["off", "allowed", "required"]



def _default_dpop_algorithms() -> list[str]:
    # EdDSA is allowed when listed; not by default: RFC 9864 deprecates the name in
    # favour of Ed25519, and joserfc warns on every use of it.
    return ["ES256", "RS256", "PS256"]


def _dpop_algorithms(values: list[str]) -> list[str]:
    bad = [value for value in values if value not in ALLOWED_ALGORITHMS]
    if bad:
        raise ValueError(f"not allowed for DPoP proofs: {bad} (allowed: {sorted(ALLOWED_ALGORITHMS)})")
    return values


class BearerResourceFields(Strict):
    """The resource-server keys of `routes[i].bearer` (see the module docstring)."""

    resource: str | None = None
    dpop: DpopMode = "allowed"
    dpop_algorithms: Annotated[list[str], Field(min_length=1), AfterValidator(_dpop_algorithms)] = (
        Field(default_factory=_default_dpop_algorithms)
    )
    dpop_max_age: Duration = 60.0
    dpop_skew: Duration = 5.0
    dpop_nonce: bool = False
    forward_dpop: bool = False

    @field_validator("resource")
    @classmethod
    def _plain_resource(cls, value: str | None) -> str | None:
        # Kept as written (clients compare it as a string, RFC 9728 §3.3). RFC 8707 §2:
        # an absolute URL without a fragment; RFC 9728 §3.1 builds the metadata URL
        # from scheme, host and path, so a query would be lost.
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.username:
            raise ValueError(f"not an absolute http(s) URL: {value!r}")
        if "?" in value or "#" in value:
            raise ValueError("write scheme://host[:port][/path]: no query or fragment")
        return value
