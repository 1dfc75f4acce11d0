"""Client authentication at the provider: the one place a request to it gets credentials.

Contract: `ClientAuth(config)` is built once per provider (with its `OIDCClient`);
`apply(form, headers, audience=issuer)` adds this client's credentials to a POST to
the token, PAR, introspection or revocation endpoint:

- `client_secret_basic` — `Authorization: Basic` of the form-urlencoded id and secret
  (RFC 6749 §2.3.1);
- `client_secret_post` — `client_id` and `client_secret` in the form;
- `client_secret_jwt` / `private_key_jwt` — `client_id`, `client_assertion_type` and a
  fresh `client_assertion` (RFC 7523 §2.2, OIDC Core §9) signed by authlib's RFC 7523
  implementation (`private_key_jwt_sign` / `client_secret_jwt_sign`, joserfc keys):
  HS256 with the client secret, or the configured private key with its `kid` / `alg`;
- a public client (no secret, no key) — `client_id` in the form only (RFC 6749 §3.2.1).

The assertion's `aud` is the provider's issuer identifier, whatever endpoint it goes
to: the 2025 "audience injection" finding against private_key_jwt (OpenID Foundation
advisory; the RFC 7523bis draft and the OIDC Core errata) is that an assertion with an
endpoint URL as audience can be replayed by whoever serves a URL the client was told
is an endpoint. Each assertion lives 60 s and has its own `jti` (RFC 7523 §3: the
provider rejects a replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
from authlib.oauth2.rfc7523 import client_secret_jwt_sign, private_key_jwt_sign
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from authgate.config.schema_auth import ProviderConfig
from authgate.config.schema_client import ClientKeyConfig, key_type

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # RFC 7523 §2.2
ASSERTION_LIFETIME = 60  # seconds
_KEY_CLASSES: dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {
    "RSA": RSAKey, "EC": ECKey, "OKP": OKPKey,
}


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A client key ready to sign: the joserfc key, its kid and its algorithm."""

    key: RSAKey | ECKey | OKPKey
    kid: str
    alg: str

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK (what the provider registers as the client's jwks)."""
        return {**self.key.as_dict(private=False), "kid": self.kid, "alg": self.alg, "use": "sig"}


def signing_key(config: ClientKeyConfig) -> SigningKey:
    """The configured key, parsed (the schema validated it already)."""
    kty = key_type(config)
    data: str | dict[str, Any] = config.pem if config.pem is not None else dict(config.jwk or {})
    # The key type is given, not guessed: joserfc warns on implicit types, and a key
    # read as another type than it says is how algorithm confusion starts.
    key: RSAKey | ECKey | OKPKey = _KEY_CLASSES[kty].import_key(data)
    jwk_kid = config.jwk.get("kid") if config.jwk else None
    kid = config.kid or (jwk_kid if isinstance(jwk_kid, str) else None) or key.thumbprint()
    return SigningKey(key, kid, config.algorithm)


class ClientAuth:
    def __init__(self, config: ProviderConfig) -> None:
        self.client_id = config.client_id
        self.method = config.token_auth_method
        self._secret = config.client_secret
        key = config.client_key
        self.key = signing_key(key) if key is not None and self.method == "private_key_jwt" else None

    def apply(self, form: dict[str, str], headers: dict[str, str], *, audience: str) -> None:
        """Add the credentials to a request's form and headers (see the module doc)."""
        if self.method == "private_key_jwt" and self.key is not None:
            self._assert(form, private_key_jwt_sign(
                self.key.key, self.client_id, audience, alg=self.key.alg,
                header={"kid": self.key.kid}, expires_in=ASSERTION_LIFETIME,
            ))
        elif self._secret is None:
            form["client_id"] = self.client_id  # public client (RFC 6749 §3.2.1)
        elif self.method == "client_secret_jwt":
            # A joserfc key, not the string: authlib deprecates guessing the type.
            self._assert(form, client_secret_jwt_sign(
                OctKey.import_key(self._secret), self.client_id, audience, alg="HS256",
                expires_in=ASSERTION_LIFETIME,
            ))
        elif self.method == "client_secret_post":
            form.update(client_id=self.client_id, client_secret=self._secret)
        else:
            headers["Authorization"] = basic_authorization(self.client_id, self._secret)

    def _assert(self, form: dict[str, str], assertion: Any) -> None:
        form.update(
            client_id=self.client_id,
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=assertion if isinstance(assertion, str) else assertion.decode(),
        )


def basic_authorization(client_id: str, client_secret: str) -> str:
    """`Authorization: Basic` for a client. RFC 6749 §2.3.1: id and secret are
    form-urlencoded first, so secrets with `:` or non-ASCII characters survive
    (`aiohttp.BasicAuth` is deprecated in aiohttp 3.14; `encode_basic_auth` does
    not encode the parts itself)."""
    return aiohttp.encode_basic_auth(quote_plus(client_id), quote_plus(client_secret))
