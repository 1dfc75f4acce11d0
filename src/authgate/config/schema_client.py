"""Schema of how the gateway talks to a provider as a client (pydantic v2).

Contract: shapes and local rules only (offline, pure apart from parsing the key
given in the config). Mixed into `ProviderConfig`:

* `token_auth_method` — client authentication at the provider's token, PAR,
  introspection and revocation endpoints: `client_secret_basic` / `client_secret_post`
  (RFC 6749 §2.3.1), `client_secret_jwt` / `private_key_jwt` (RFC 7523 §2.2, OIDC Core
  §9). `private_key_jwt` needs `client_key`; `client_secret_jwt` needs a
  `client_secret` long enough to be an HS256 key (32 bytes, RFC 7518 §3.2).
* `client_key` — the private key of `private_key_jwt`: a PEM (`pem_file: PATH`, read
  by the `*_file` indirection, or `pem` inline) or a private JWK (`jwk`), with `kid`
  and `alg`. The key is parsed here, so a bad key, a public key, or an `alg` that
  does not fit the key is a problem on the key's line, not a failed login later.
* `access_tokens` — how a bearer token of this provider is checked: `jwt` (RFC 9068
  JWT access tokens, checked locally: the default, as before), `opaque` (RFC 7662
  introspection), `auto` (a token shaped like a JWS is a JWT, anything else is
  introspected).
* `introspection` — the endpoint override and the cache bounds (docs/agents.md).
* `par` — pushed authorization requests (RFC 9126): `auto` (push where discovery
  advertises `pushed_authorization_request_endpoint`), `required` (refuse to sign in
  through a provider that does not), `off`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BeforeValidator, Field, model_validator

from authgate.config.schema_types import Duration, Strict

TokenAuthMethod = Literal[
    "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"
]
# The signing algorithms a client key may use (RFC 7518 §3.1, RFC 8037): asymmetric
# only, as for the tokens we accept.
KEY_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "RSA": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "EC": ("ES256", "ES384", "ES512"),
    "OKP": ("EdDSA",),
}
_DEFAULT_ALG = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}
# RFC 7518 §3.2: an HMAC key at least as long as the hash output (HS256: 32 bytes).
_MIN_HMAC_SECRET = 32


def _json_text(value: object) -> object:
    # `jwk_file: key.json` gives the file's text: a JWK is JSON.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise ValueError(f"not a JSON object: {error}") from None
    return value


class ClientKeyConfig(Strict):
    """A private key the gateway signs its client assertions with."""

    pem: str | None = None  # usually given as `pem_file: PATH`
    # A private JWK, inline or as `jwk_file: PATH` (a JSON file).
    jwk: Annotated[dict[str, Any], BeforeValidator(_json_text)] | None = None
    kid: str | None = None  # default: the JWK's kid, else its RFC 7638 thumbprint
    alg: str | None = None  # default: RS256, ES256 or EdDSA by the key's type

    @model_validator(mode="after")
    def _usable_key(self) -> ClientKeyConfig:
        if (self.pem is None) == (self.jwk is None):
            raise ValueError("give the key as pem_file (a PEM file), pem or jwk: exactly one")
        kty = key_type(self)
        allowed = KEY_ALGORITHMS[kty]
        if self.alg is not None and self.alg not in allowed:
            raise ValueError(f"alg {self.alg!r} does not fit a {kty} key (use one of {', '.join(allowed)})")
        return self

    @property
    def algorithm(self) -> str:
        return self.alg or _DEFAULT_ALG[key_type(self)]


def key_type(key: ClientKeyConfig) -> str:
    """The JWK `kty` of the configured private key; ValueError when it is not one."""
    if key.jwk is not None:
        kty = key.jwk.get("kty")
        if kty not in KEY_ALGORITHMS:
            raise ValueError(f"jwk: kty must be one of {', '.join(KEY_ALGORITHMS)} (got {kty!r})")
        if "d" not in key.jwk:
            raise ValueError("jwk: a public key; the client key must be the private one (with d)")
        return str(kty)
    assert key.pem is not None
    # Imported here: the pure modules import the schema, and must not load a crypto
    # library for it (tests/test_purity.py); only a config with a PEM key needs it.
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        private = load_pem_private_key(key.pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"pem: not an unencrypted PEM private key ({error})") from None
    if isinstance(private, rsa.RSAPrivateKey):
        return "RSA"
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return "EC"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "OKP"
    raise ValueError(f"pem: a {type(private).__name__} cannot sign a client assertion")


class IntrospectionConfig(Strict):
    """RFC 7662 token introspection of opaque access tokens."""

    # None: the discovery document's `introspection_endpoint`.
    endpoint: AnyHttpUrl | None = None
    # Answers are kept this long at most, and never past the token's `exp`.
    cache_ttl: Duration = 60.0
    # `active: false` is kept this long (a burst of one bad token asks once).
    negative_ttl: Duration = 5.0
    cache_size: int = Field(default=10_000, ge=1, le=1_000_000)


class ProviderClientFields(Strict):
    """The provider keys about the gateway as its client (mixed into ProviderConfig)."""

    client_id: str
    client_secret: str | None = None
    token_auth_method: TokenAuthMethod = "client_secret_basic"
    client_key: ClientKeyConfig | None = None
    access_tokens: Literal["jwt", "opaque", "auto"] = "jwt"
    introspection: IntrospectionConfig = Field(default_factory=IntrospectionConfig)
    par: Literal["auto", "required", "off"] = "auto"

    @model_validator(mode="after")
    def _auth_method_inputs(self) -> ProviderClientFields:
        method = self.token_auth_method
        if method == "private_key_jwt" and self.client_key is None:
            raise ValueError("token_auth_method private_key_jwt needs client_key (pem_file or jwk)")
        if method == "client_secret_jwt":
            if self.client_secret is None:
                raise ValueError("token_auth_method client_secret_jwt needs client_secret")
            if len(self.client_secret.encode()) < _MIN_HMAC_SECRET:
                raise ValueError(
                    f"client_secret_jwt signs with HS256: the client_secret must be at least "
                    f"{_MIN_HMAC_SECRET} bytes (RFC 7518 §3.2)"
                )
        if self.client_key is not None and method != "private_key_jwt":
            raise ValueError(f"client_key is only used with token_auth_method private_key_jwt (not {method})")
        return self
