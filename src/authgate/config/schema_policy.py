"""Schema of per-route policies, audiences, step-up and consent (pydantic v2).

Contract: shapes and local rules only (offline, pure); `RoutePolicyFields` is mixed
into `RouteConfig`. What needs compiling — CIDRs, time zones, hour ranges, path
globs — is checked by `authgate.policy.compile`, which reports by key path too
(`routes[2].policy.deny[0].ip[1]`). Semantics: docs/policies.md.

A policy entry is a mapping with exactly ONE key: a criterion (`groups: [hr]`) or a
combinator (`and: [...]`, `or: [...]`, `not: {...}`). Lists of values never may be
empty: an empty list matches nothing, which is always a mistake in an allow rule
and silently disables a deny rule.

Entries nest, so the recursive types are spelled through `TypeAliasType`: pydantic
validates them with exact key paths, and tools walking `model_fields` (the example
test) stop at the alias instead of recursing forever.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BeforeValidator, Field, model_validator
from typing_extensions import TypeAliasType

from authgate.config.schema_types import Duration, Strict

Audience = Literal["workforce", "customer"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClaimScalar = str | int | float | bool
DeviceValue = bool | int | str

# RFC 8176 methods that are multi-factor by themselves or a second factor.
DEFAULT_MFA_METHODS = ("mfa", "otp", "hwk", "swk", "sms", "face", "fpt")

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DOMAIN = re.compile(r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*")
_METHOD = re.compile(r"[A-Za-z]+")
_COUNTRY = re.compile(r"[A-Z]{2}")


def ascii_lower(text: str) -> str:
    """Lowercase A-Z only. `str.lower()` maps e.g. the Kelvin sign U+212A to `k`,
    letting a look-alike address match a configured one (Unicode case-mapping
    collisions, CWE-178; GitHub's 2019 password-reset advisory)."""
    return text.translate(_ASCII_UPPER)


def _non_empty(values: list[str]) -> list[str]:
    if any(not value for value in values):
        raise ValueError("an empty string matches nothing")
    return values


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or "@" in local or not _DOMAIN.fullmatch(ascii_lower(domain)):
        raise ValueError(f"not an email address: {value!r}")
    return ascii_lower(value)


def _domain_pattern(value: str) -> str:
    text = ascii_lower(value)
    if _DOMAIN.fullmatch(text.removeprefix("*.")):
        return text
    hint = "drop the '@'" if text.startswith("@") else "write corp.com or *.corp.com"
    raise ValueError(f"not a domain: {value!r} ({hint})")


def _method(value: str) -> str:
    if not _METHOD.fullmatch(value):
        raise ValueError(f"not an HTTP method: {value!r}")
    return value.upper()


def _country(value: str) -> str:
    code = value.upper() if value.isascii() else value
    if not _COUNTRY.fullmatch(code):
        raise ValueError(f"not an ISO 3166-1 alpha-2 country code: {value!r}")
    return code


def _day(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _path_pattern(value: str) -> str:
    # Policies see origin-form paths; a pattern without '/' could never match.
    if not value.startswith("/"):
        raise ValueError(f"must start with '/': {value!r}")
    return value


# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) — no space, `"` or `\`,
# so a scope can be named in a challenge's quoted `scope="..."` (RFC 6750 §3).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")


def _scope_token(value: str) -> str:
    if not _SCOPE_TOKEN.fullmatch(value):
        raise ValueError(f"not an OAuth scope: {value!r} (RFC 6749 §3.3: no spaces, quotes or backslashes)")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Names = Annotated[list[str], Field(min_length=1), AfterValidator(_non_empty)]
Emails = Annotated[list[Annotated[str, AfterValidator(_email)]], Field(min_length=1)]
DomainPatterns = Annotated[
    list[Annotated[str, AfterValidator(_domain_pattern)]], Field(min_length=1)
]
Methods = Annotated[list[Annotated[str, AfterValidator(_method)]], Field(min_length=1)]
Countries = Annotated[list[Annotated[str, AfterValidator(_country)]], Field(min_length=1)]
PathGlobs = Annotated[list[Annotated[str, AfterValidator(_path_pattern)]], Field(min_length=1)]
Scopes = Annotated[list[Annotated[str, AfterValidator(_scope_token)]], Field(min_length=1)]
Days = Annotated[list[Annotated[Day, BeforeValidator(_day)]], Field(min_length=1)]


def _one_of(model: Strict, names: tuple[str, ...]) -> None:
    # `equals: null` counts as not given: a null never matches anything.
    given = [name for name in names if getattr(model, name) is not None]
    if len(given) != 1:
        shown = [_key(model, name) for name in names]
        raise ValueError(f"give exactly one of {', '.join(shown)}")


def _key(model: Strict, name: str) -> str:
    alias = type(model).model_fields[name].alias
    return alias or name


class ClaimCriterion(Strict):
    """`{path: a.b, equals: X}` / `{path, contains: X}` / `{path, in: [X, Y]}`."""

    path: str = Field(min_length=1)
    equals: ClaimScalar | None = None
    contains: ClaimScalar | None = None
    in_: list[ClaimScalar] | None = Field(default=None, alias="in", min_length=1)

    @model_validator(mode="after")
    def _one_operator(self) -> ClaimCriterion:
        _one_of(self, ("equals", "contains", "in_"))
        return self


class CountryCriterion(Strict):
    in_: Countries | None = Field(default=None, alias="in")
    not_in: Countries | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> CountryCriterion:
        _one_of(self, ("in_", "not_in"))
        return self


class TimeCriterion(Strict):
    """Days and/or an `HH:MM-HH:MM` window, in a time zone (checked at compile)."""

    days: Days | None = None
    hours: str | None = None
    tz: str = "UTC"

    @model_validator(mode="after")
    def _says_something(self) -> TimeCriterion:
        if self.days is None and self.hours is None:
            raise ValueError("give days, hours or both")
        return self


class RiskCriterion(Strict):
    below: Annotated[float, AfterValidator(_finite)]


class PolicyEntry(Strict):
    """One rule: exactly one criterion or combinator (see the module docstring)."""

    authenticated: Literal[True] | None = None
    user: Names | None = None
    email: Emails | None = None
    email_domain: DomainPatterns | None = None
    groups: Names | None = None
    roles: Names | None = None
    claim: ClaimCriterion | None = None
    mfa: bool | None = None
    acr: Names | None = None
    amr: Names | None = None
    auth_age: Duration | None = None
    country: CountryCriterion | None = None
    ip: Names | None = None
    device: Annotated[dict[str, DeviceValue], Field(min_length=1)] | None = None
    time: TimeCriterion | None = None
    method: Methods | None = None
    path: PathGlobs | None = None
    risk: RiskCriterion | None = None
    consent: Names | None = None
    # Held only while the user has an active grant of one of them (docs/privileged-access.md).
    entitlement: Names | None = None
    scopes: Scopes | None = None  # OAuth scopes the token must grant, every one
    and_: Entries | None = Field(default=None, alias="and", min_length=1)
    or_: Entries | None = Field(default=None, alias="or", min_length=1)
    not_: EntryRef | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_key(self) -> PolicyEntry:
        if len(self.model_fields_set) != 1:
            given = sorted(_key(self, name) for name in self.model_fields_set)
            raise ValueError(
                f"an entry has exactly one key, a criterion or and/or/not (got {given or 'none'}); "
                "combine several with `and: [...]`"
            )
        return self

    @property
    def kind(self) -> str:
        """The one key given, in the operator's spelling (`and`, `email_domain`)."""
        return _key(self, next(iter(self.model_fields_set)))


Entries = TypeAliasType("Entries", list[PolicyEntry])
EntryRef = TypeAliasType("EntryRef", PolicyEntry)
PolicyEntry.model_rebuild()


def _default_mfa_methods() -> list[str]:
    return list(DEFAULT_MFA_METHODS)


class PolicyConfig(Strict):
    """`allow` / `deny` entries; deny wins, nothing allowed means denied."""

    allow: Entries = Field(default_factory=list)
    deny: Entries = Field(default_factory=list)
    # `amr` values that make `mfa: true` hold (RFC 8176 names).
    mfa_methods: Names = Field(default_factory=_default_mfa_methods)


class StepUpConfig(Strict):
    """Paths that need a stronger or fresher login than the session has."""

    paths: PathGlobs | None = None  # None: every path of the route
    acr: str | None = Field(default=None, min_length=1)
    amr: Names | None = None  # every one of them must be in the new token's amr
    max_age: Duration | None = None  # just-in-time elevation: re-login after this

    @model_validator(mode="after")
    def _asks_something(self) -> StepUpConfig:
        if self.acr is None and self.amr is None and self.max_age is None:
            raise ValueError("give acr, amr or max_age (a step-up must ask for something)")
        return self


class ConsentConfig(Strict):
    require: Names
    claim: str = Field(default="consents", min_length=1)  # dotted path into the claims
    url: AnyHttpUrl


class RoutePolicyFields(Strict):
    """Policy-related keys of a route (mixed into RouteConfig)."""

    audience: Audience | None = None
    policy: PolicyConfig | None = None  # None: the audience's default policy
    step_up: StepUpConfig | list[StepUpConfig] | None = None
    consent: ConsentConfig | None = None
    # Overrides the audience default and sessions.idle_timeout on this route.
    session_idle_timeout: Duration | None = None
