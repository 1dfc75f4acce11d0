"""Schema of login, sessions, providers and upstream identity (pydantic v2).

Contract: shapes and local rules only (offline, pure). Cross-references — a route
naming a provider that does not exist, login routes without a provider or secret —
are checked in `config/references.py`, which reports them by key path.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from authgate.config.paths import ConfigPath
from authgate.config.schema_bearer import BearerResourceFields
from authgate.config.schema_client import ProviderClientFields
from authgate.config.schema_headers import PresetName
from authgate.config.schema_signals import SignalsConfig
from authgate.config.schema_types import ALLOWED_ALGORITHMS, Duration, Interval, Strict

_MIN_SECRET = 32


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _strong_secret(value: str) -> str:
    # A key of our own (HKDF input of the cookie MAC and token encryption, an HMAC
    # key): at least 32 characters, so at least 32 bytes — RFC 2104 §3 discourages
    # HMAC keys shorter than the hash output (32 bytes for SHA-256).
    if len(value) < _MIN_SECRET:
        raise ValueError(
            f"a secret must be at least {_MIN_SECRET} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return value


def _some_secrets(values: list[str]) -> list[str]:
    if not values:
        raise ValueError("give at least one secret")
    return values


StrongSecret = Annotated[str, AfterValidator(_strong_secret)]
SecretList = Annotated[
    list[StrongSecret], BeforeValidator(_as_list), AfterValidator(_some_secrets)
]


class SecretsConfig(Strict):
    # The first secret signs cookies and encrypts tokens; all of them verify and
    # decrypt, so a new secret is rolled in by putting it first.
    cookie_secret: SecretList
    # A path (not `*_file`: that suffix means "read this secret from a file") to the
    # PEM bundle of assertion signing keys; created when absent. Default:
    # `assertion-keys.pem` in server.state_dir.
    assertion_keys: ConfigPath | None = None


def _redis_node(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a Redis node: {value!r} (write host:port, e.g. 10.0.0.5:6379)")
    return value


RedisNode = Annotated[str, AfterValidator(_redis_node)]


class RedisClusterConfig(Strict):
    """A Redis Cluster: any reachable node finds the others (CLUSTER SLOTS)."""

    nodes: list[RedisNode] = Field(min_length=1)
    username: str | None = None
    password: str | None = None


class RedisSentinelConfig(Strict):
    """A master found through Sentinel; `password` is the data nodes' (master, replicas)."""

    nodes: list[RedisNode] = Field(min_length=1)
    service: str = Field(min_length=1)  # the name in `sentinel monitor <service> ...`
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None  # when the sentinels themselves need AUTH
    db: int = Field(default=0, ge=0)


class StoreConfig(Strict):
    backend: Literal["memory", "redis"] = "memory"
    # Exactly one of url / cluster / sentinel says where a redis store lives. With
    # backend: memory any of them may stay in the file, unused, to switch back.
    url: str | None = None  # redis://host:port/db or rediss://
    cluster: RedisClusterConfig | None = None
    sentinel: RedisSentinelConfig | None = None
    key_prefix: str = "authgate:"

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(redis|rediss|unix)://", value):
            raise ValueError("not a Redis URL (redis://, rediss:// or unix://)")
        return value

    @field_validator("key_prefix")
    @classmethod
    def _no_hash_tag(cls, value: str) -> str:
        # Redis Cluster hashes the first {...} of a key: braces in the prefix would pin
        # every key to one slot and void the per-session hash tags.
        if "{" in value or "}" in value:
            raise ValueError("must not contain '{' or '}' (Redis Cluster hash tags)")
        return value

    @model_validator(mode="after")
    def _one_location(self) -> StoreConfig:
        if self.backend != "redis":
            return self
        given = [k for k in ("url", "cluster", "sentinel") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give one of url, cluster, sentinel for the redis store (got {', '.join(given)})"
            )
        if not given:
            raise ValueError(
                "the redis store needs one of url (redis://host:6379/0), "
                "cluster ({nodes: [host:port, ...]}) or sentinel ({nodes: [...], service: NAME})"
            )
        return self


class SessionCacheConfig(Strict):
    """The per-process session cache in front of a Redis store (docs/sessions-cache.md).

    Invalidated through the state-event channel within milliseconds; `ttl` only bounds
    how long an entry can outlive a change that published no event (a replica of an
    older version during a rolling upgrade). `size: 0` turns the cache off.
    """

    size: int = Field(default=10_000, ge=0, le=1_000_000)
    ttl: Duration = Field(default=5.0, le=300.0)


class SessionsConfig(Strict):
    idle_timeout: Duration = 8 * 3600.0
    max_lifetime: Duration = 7 * 86400.0
    cookie_name: str = Field(default="authgate", pattern=r"^[A-Za-z0-9_-]+$")
    cookie_domain: str | None = None
    # Refresh an access token this long before it expires.
    refresh_before: Duration = 60.0
    # How long a login may take between leaving for the provider and coming back.
    login_timeout: Duration = 600.0
    # Only a Redis store is cached: the memory store is in this process already.
    cache: SessionCacheConfig = SessionCacheConfig()


class ClaimsMapping(Strict):
    """Dotted paths into the ID token / userinfo claims (`realm_access.roles`)."""

    email: str = "email"
    name: str = "name"
    username: str = "preferred_username"
    groups: str = "groups"
    roles: str = "roles"


def _allowed_algorithms(values: list[str]) -> list[str]:
    bad = [v for v in values if v not in ALLOWED_ALGORITHMS]
    if bad:
        raise ValueError(f"not allowed: {bad} (allowed: {sorted(ALLOWED_ALGORITHMS)})")
    return values


def _default_scopes() -> list[str]:
    return ["openid", "email", "profile"]


def _default_algorithms() -> list[str]:
    return ["RS256", "PS256", "ES256", "EdDSA"]


class ProviderConfig(ProviderClientFields):
    """One OpenID Provider; the keys about the gateway as its client (client_id,
    secrets and keys, client authentication, access tokens, PAR) are in
    `schema_client.ProviderClientFields`."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    display_name: str | None = None
    issuer: AnyHttpUrl
    scopes: list[str] = Field(default_factory=_default_scopes)
    claims: ClaimsMapping = Field(default_factory=ClaimsMapping)
    userinfo: bool = False  # merge the userinfo endpoint's claims at login
    algorithms: Annotated[list[str], AfterValidator(_allowed_algorithms)] = Field(
        default_factory=_default_algorithms
    )
    leeway: Duration = 60.0  # clock skew tolerated on exp / iat / nbf
    extra_auth_params: dict[str, str] = Field(default_factory=dict)
    # Each call to the provider (discovery, JWKS, token, userinfo) gives up after this;
    # a sign-in then shows the "sign-in service timed out" page (504).
    timeout: Duration = 10.0
    # strict: an email counts for `email`/`email_domain` only with `email_verified`
    # the JSON boolean true. assume: every email of this provider counts as verified
    # (the nOAuth risk, docs/policies.md: only for a provider that verifies them all).
    email_verified: Literal["strict", "assume"] = "strict"
    # Offer "Create account" on the chooser (prompt=create, OpenID Connect Initiating
    # User Registration 1.0), shown only where discovery lists `create` in
    # prompt_values_supported, and not on workforce routes.
    signup: bool = False
    # Continuous access evaluation (docs/continuous.md). Past `reverify_every` since a
    # session was last verified, its next request refreshes it at the provider (or
    # asks userinfo when there is no refresh token) before it is decided; a route's
    # own `reverify_every` overrides this; unset on both: the route's audience
    # default (workforce 5m, otherwise off).
    reverify_every: Interval | None = None
    # A provider that cannot be reached (timeout, 5xx, network) when a refresh or a
    # re-verification is due keeps the session this long past the moment it was due,
    # on the identity last verified; then the session ends (`reverify-failed`).
    # `invalid_grant` ends it at once, whatever the grace.
    outage_grace: Duration = 600.0
    # A Shared Signals transmitter whose security events end or re-check this
    # provider's sessions (config/schema_signals.py, docs/continuous.md).
    signals: SignalsConfig | None = None

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include 'openid' (an OpenID Connect login needs it)")
        return value


class BearerConfig(BearerResourceFields):
    providers: list[str] | None = None  # None: every configured provider
    audiences: list[str] = Field(min_length=1)


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def _header_names(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"not a header name: {name!r} (letters, digits and '-')")
    return value




class GroupsShown(Strict):
    """`headers.groups`: which groups the identity headers carry (the assertion: all)."""

    # Names to send, or `policy`: the names the route's policy uses in any `groups`
    # criterion (allow or deny), so the upstream sees what the decision looked at.
    only: Literal["policy"] | Annotated[list[str], Field(min_length=1)] | None = None
    match: str | None = None  # a regex, searched (`^app-` anchors it)

    @field_validator("match")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a regex: {error}") from None
        return value

    @model_validator(mode="after")
    def _says_something(self) -> GroupsShown:
        if self.only is None and self.match is None:
            raise ValueError("give only (a list, or policy) and/or match (a regex)")
        return self


_DEFAULT_HEADER_BUDGET = 8 * 1024


class IdentityHeaders(Strict):
    """A route's `headers:` — templates (`X-Employee-Id: "{claims.employee_id}"`, any
    key with a string value) beside the options below (lowercase keys, other values)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, str] = Field(init=False)  # the templates, by header

    groups: GroupsShown | None = None  # None: every group
    # The identity headers together (`Name: value` lines, assertion included) stay
    # under this: past it the groups header goes first, then the roles header. Common
    # upstream limits are 8 KiB per line (nginx) and 8-16 KiB per request head.
    max_bytes: int = Field(default=_DEFAULT_HEADER_BUDGET, ge=512, le=1 << 20)
    # A migration preset (docs/migrating.md); None: the top-level headers.preset;
    # `none`: no preset on this route. The route's templates extend or replace it.
    preset: PresetName | Literal["none"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_options(cls, value: object) -> object:
        # Anything that is not a string must be an option: a typo (`max_byte: 4096`)
        # is named as one instead of as "not a valid string".
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(item, str) and key not in cls.model_fields:
                    options = ", ".join(cls.model_fields)
                    raise ValueError(
                        f"{key!r} is not an option of headers ({options}); "
                        "a header template's value is a string"
                    )
        return value

    @model_validator(mode="after")
    def _template_names(self) -> IdentityHeaders:
        _header_names(self.templates)
        return self

    @property
    def templates(self) -> dict[str, str]:
        return dict(self.model_extra or {})

Authenticator = Literal["session", "bearer"]


def _default_authenticators() -> list[Authenticator]:
    return ["session"]


Port = Annotated[int, Field(ge=1, le=65535)]


class RouteAuthFields(Strict):
    """Login-related keys of a route (mixed into RouteConfig)."""

    providers: list[str] | None = None  # None: every configured provider
    authenticate: list[Authenticator] = Field(
        default_factory=_default_authenticators, min_length=1
    )
    bearer: BearerConfig | None = None
    headers: IdentityHeaders = Field(default_factory=IdentityHeaders)
    pass_access_token: bool = False
    assertion_ttl: Duration = 60.0
    # Ports, besides the one the user came in on, that a return URL on this route may
    # name after sign-in (an origin is scheme, host and port: RFC 6454; docs/login.md).
    return_ports: list[Port] = Field(default_factory=list)
    # Overrides the provider's `reverify_every` on this route (`off` switches it off).
    reverify_every: Interval | None = None
