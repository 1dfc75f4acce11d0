"""Schema of `providers[].signals`: a Shared Signals (SSF 1.0) transmitter to hear.

Contract: shapes and local rules only (offline, pure). A provider with a `signals`
block receives Security Event Tokens (RFC 8417) from its transmitter, by push
(RFC 8935: the transmitter POSTs each SET to `/.authgate/signals/<provider id>`) or by
poll (RFC 8936: the gateway POSTs to the stream's `poll_url` every `poll_interval`).
The stream itself (its delivery method, endpoint and events) is set up at the
transmitter, out of band: each vendor has its own console or API for it
(docs/continuous.md). What the gateway needs to know:

- `transmitter`: the transmitter's issuer (the SETs' `iss`); its metadata is read
  from `<origin>/.well-known/ssf-configuration<issuer path>` (SSF 1.0 §7.2), or from
  `configuration_url` when the vendor publishes it elsewhere (Google's RISC
  configuration is at `/.well-known/risc-configuration`).
- `audience`: the `aud` the SETs must name; default the provider's `client_id`
  (what the provider knows the gateway as; Google's RISC SETs name it).
- `push_token`: when set, a push must carry `Authorization: Bearer <push_token>` (the
  value the stream's `authorization_header` gives the transmitter, SSF 1.0 §8.1.1).
  It is a gate against floods of forgeries, not the SET's authentication: every SET
  is verified by its signature whether or not this is set.
- `poll_url`, `poll_token`: where and with what bearer token to poll (the stream's
  `delivery.endpoint_url`, and the transmitter's access token for it).
- `algorithms`, `leeway`, `max_age`: the signature algorithms accepted (asymmetric
  only), the clock skew on `iat`, and how old a SET (by `iat`) may still be acted on;
  its `jti` is remembered for `max_age + leeway`, so a replay within that time is
  refused and one after it is too old.
- `require_typ`: false accepts SETs without a `typ` header (pre-SSF transmitters).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, AnyHttpUrl, Field, model_validator

from authgate.config.schema_types import ALLOWED_ALGORITHMS, Duration, Strict

PUSH_DELIVERY = "urn:ietf:rfc:8935"  # SSF 1.0 §8.1.1: delivery method URIs
POLL_DELIVERY = "urn:ietf:rfc:8936"
_MIN_TOKEN = 32


def _allowed(values: list[str]) -> list[str]:
    # RFC 7518 asymmetric algorithms only, as for ID tokens: never `none` or HMAC.
    bad = [v for v in values if v not in ALLOWED_ALGORITHMS]
    if bad:
        raise ValueError(f"not allowed: {bad} (allowed: {sorted(ALLOWED_ALGORITHMS)})")
    return values


def _long_token(value: str | None) -> str | None:
    # The transmitter's shared secret: long enough not to be guessed (RFC 6750 §5.2
    # bearer tokens must be unguessable; 32 characters as for our other secrets).
    if value is not None and len(value) < _MIN_TOKEN:
        raise ValueError(f"must be at least {_MIN_TOKEN} characters")
    return value


def _default_algorithms() -> list[str]:
    return ["RS256", "PS256", "ES256", "EdDSA"]


class SignalsConfig(Strict):
    transmitter: AnyHttpUrl
    configuration_url: AnyHttpUrl | None = None
    audience: str | None = Field(default=None, min_length=1)
    delivery: Literal["push", "poll"] = "push"
    push_token: Annotated[str | None, AfterValidator(_long_token)] = None
    poll_url: AnyHttpUrl | None = None
    poll_token: str | None = Field(default=None, min_length=1)
    poll_interval: Duration = 30.0
    poll_max_events: int = Field(default=100, ge=1, le=1000)
    algorithms: Annotated[list[str], AfterValidator(_allowed)] = Field(
        default_factory=_default_algorithms, min_length=1
    )
    leeway: Duration = 60.0
    max_age: Duration = 3600.0
    # SSF 1.0 SETs carry `typ: secevent+jwt`; false accepts one without `typ`, from a
    # transmitter older than SSF 1.0 (another `typ` is refused all the same).
    require_typ: bool = True

    @model_validator(mode="after")
    def _delivery_needs(self) -> SignalsConfig:
        if self.delivery == "poll" and self.poll_url is None:
            raise ValueError("delivery: poll needs poll_url (the stream's delivery endpoint_url)")
        if self.delivery == "push" and (self.poll_url is not None or self.poll_token is not None):
            raise ValueError("poll_url and poll_token are for delivery: poll")
        if self.delivery == "poll" and self.push_token is not None:
            raise ValueError("push_token is for delivery: push")
        return self

    @property
    def metadata_url(self) -> str:
        """SSF 1.0 §7.2: the well-known path goes between the host and the issuer's path."""
        if self.configuration_url is not None:
            return str(self.configuration_url)
        issuer = urlsplit(str(self.transmitter))
        return f"{issuer.scheme}://{issuer.netloc}/.well-known/ssf-configuration{issuer.path.rstrip('/')}"
