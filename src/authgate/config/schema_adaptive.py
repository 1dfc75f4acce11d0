"""Schema of the adaptive checks: GeoIP, devices, risk history, per-route risk (pydantic v2).

Contract: shapes and local rules only (offline, pure). The models:
- `GeoConfig` (top-level `geoip:`), `DevicesConfig` (top-level `devices:`) and
  `RiskHistoryConfig` (top-level `risk_history:`), mixed into GatewayConfig by the lead;
- `RouteAdaptiveFields`, mixed into RouteConfig: a route's `adaptive:` block. Without
  it the route computes no risk score; `adaptive: {}` turns it on with defaults.
Weights left out of `adaptive.weights` come from the route's audience
(`AUDIENCE_WEIGHTS`, documented in docs/adaptive.md); `authgate.risk.rules` merges
them when it compiles the block. Cross-references (a geo criterion without a
database) are `config/references.py`'s to check.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from authgate.config.paths import ConfigPath
from authgate.config.schema_types import Duration, Strict
from authgate.risk.signal import Signal

Audience = Literal["workforce", "customer"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named defaults (STYLE.md lesson 6). Workforce counts the device and the hour more
# (managed laptops, office hours); customer counts travel and failed logins more
# (account takeover with stolen passwords) and never the hour.
NEUTRAL_WEIGHTS: dict[Signal, int] = {
    Signal.NEW_DEVICE: 20,
    Signal.NEW_COUNTRY: 20,
    Signal.IMPOSSIBLE_TRAVEL: 45,
    Signal.ANONYMOUS_NETWORK: 25,
    Signal.IP_REPUTATION: 50,
    Signal.FAILED_LOGINS: 30,
    Signal.OUTSIDE_HOURS: 15,
}
AUDIENCE_WEIGHTS: dict[Audience | None, dict[Signal, int]] = {
    None: NEUTRAL_WEIGHTS,
    "workforce": {
        Signal.NEW_DEVICE: 30,
        Signal.NEW_COUNTRY: 20,
        Signal.IMPOSSIBLE_TRAVEL: 40,
        Signal.ANONYMOUS_NETWORK: 30,
        Signal.IP_REPUTATION: 50,
        Signal.FAILED_LOGINS: 30,
        Signal.OUTSIDE_HOURS: 20,
    },
    "customer": {
        Signal.NEW_DEVICE: 10,
        Signal.NEW_COUNTRY: 15,
        Signal.IMPOSSIBLE_TRAVEL: 50,
        Signal.ANONYMOUS_NETWORK: 20,
        Signal.IP_REPUTATION: 50,
        Signal.FAILED_LOGINS: 40,
        Signal.OUTSIDE_HOURS: 0,
    },
}
DEFAULT_STEP_UP_AT = 40
DEFAULT_DENY_AT = 80
DEFAULT_MAX_SPEED_KMH = 1000.0  # a little above an airliner's cruising speed
DEFAULT_FAILED_LOGINS = 5
_ALL_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")  # end may be 24:00

# RFC 7518 asymmetric algorithms only (as for providers, schema_auth.py): a posture
# token signed with HMAC or `none` is never accepted (CVE-2015-9235 class).
_POSTURE_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


# ---------------------------------------------------------------- GeoIP


MmdbPath = ConfigPath | None


class GeoConfig(Strict):
    """`geoip:` — MaxMind-format databases; every one is optional.

    `city` and `country` both answer the location (MaxMind City/Country layouts, or
    the flat `{"country_code": ...}` layout of the open country databases); where both
    are set, `city` is asked first. Relative paths are relative to the config file.
    """

    city: MmdbPath = None
    country: MmdbPath = None
    asn: MmdbPath = None
    anonymous_ip: MmdbPath = None
    reload_interval: Duration = 60.0
    # About 300 bytes an entry; a miss costs ~0.1 ms (a City record decodes every language).
    cache_size: int = Field(default=16_384, ge=0)

    @property
    def has_location(self) -> bool:
        """Whether a country criterion has a database to answer it."""
        return self.city is not None or self.country is not None


# ---------------------------------------------------------------- devices


class MtlsConfig(Strict):
    """`devices.mtls:` — client certificates on the TLS listener (`server.tls`)."""

    client_ca: ConfigPath  # PEM bundle of the CAs that issue device certificates
    mode: Literal["optional", "required"] = "optional"


class PostureConfig(Strict):
    """`devices.posture:` — a signed device-posture JWT from an MDM or endpoint agent."""

    issuer: str = Field(min_length=1)  # compared exactly with the token's `iss`
    jwks_uri: str
    audience: str = Field(min_length=1)  # required: a token for another party is refused
    header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+$")
    cookie: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    leeway: Duration = 60.0

    @field_validator("jwks_uri")
    @classmethod
    def _https_or_loopback(cls, value: str) -> str:
        if not re.match(r"^https://|^http://(127\.|localhost[:/]|\[::1\])", value):
            raise ValueError("write an https:// URL (http only for a loopback address)")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in _POSTURE_ALGORITHMS]
        if bad or not value:
            raise ValueError(f"not allowed: {bad} (allowed: {sorted(_POSTURE_ALGORITHMS)})")
        return value

    @model_validator(mode="after")
    def _somewhere_to_read(self) -> PostureConfig:
        if self.header is None and self.cookie is None:
            raise ValueError("give `header` or `cookie` (where the agent sends the token)")
        return self


class KnownDeviceCookieConfig(Strict):
    """`devices.known_device_cookie:` — a long-lived signed random device id."""

    name: str = Field(default="authgate-device", pattern=r"^[A-Za-z0-9_-]+$")
    # Browsers cap a cookie's lifetime at 400 days (RFC 6265bis §5.6.1).
    max_age: Duration = 365 * 86400.0

    @field_validator("max_age")
    @classmethod
    def _browser_cap(cls, value: float) -> float:
        if value > 400 * 86400.0:
            raise ValueError("at most 400d: browsers cap cookie lifetimes there")
        return value


class DevicesConfig(Strict):
    mtls: MtlsConfig | None = None
    posture: PostureConfig | None = None
    known_device_cookie: KnownDeviceCookieConfig | None = None


# ---------------------------------------------------------------- risk history


class RiskHistoryConfig(Strict):
    """`risk_history:` — what the store keeps per user (locations, devices, countries)."""

    ttl: Duration = 90 * 86400.0  # a device or country unseen this long is new again
    max_devices: int = Field(default=20, ge=1, le=1000)
    max_countries: int = Field(default=20, ge=1, le=300)
    failed_login_window: Duration = 900.0
    memory_max_users: int = Field(default=100_000, ge=1)


# ---------------------------------------------------------------- per route


class WorkingHours(Strict):
    """Outside these hours (in `tz`) a request raises `outside-hours`.

    `hours` is `HH:MM-HH:MM`; a start after the end wraps midnight (`22:00-06:00`), and
    a window that wraps belongs to the day it starts on.
    """

    days: list[Weekday] = Field(default_factory=lambda: list(_ALL_DAYS[:5]))
    hours: str = "07:00-20:00"
    tz: str = "UTC"

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: list[Weekday]) -> list[Weekday]:
        if not value:
            raise ValueError("give at least one day (every request would be outside hours)")
        return sorted(set(value), key=_ALL_DAYS.index)

    @field_validator("hours")
    @classmethod
    def _window(cls, value: str) -> str:
        found = _HOURS.match(value)
        if found is None:
            raise ValueError(f"not a window: {value!r} (write HH:MM-HH:MM, e.g. 08:00-18:30)")
        if found.group(3) == "24" and found.group(4) != "00":
            raise ValueError(f"not a time: {found.group(3)}:{found.group(4)}")
        if found.group(1, 2) == found.group(3, 4):
            raise ValueError("an empty window (start equals end); 00:00-24:00 is the whole day")
        return value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        # Reads the local IANA database (OS or the `tzdata` package): no network.
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not an IANA time zone: {value!r} (e.g. Europe/Paris)") from None
        return value

    @property
    def minutes(self) -> tuple[int, int]:
        """Start and end of the window, in minutes after midnight."""
        found = _HOURS.match(self.hours)
        if found is None:  # pragma: no cover - validated above
            raise ValueError(self.hours)
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        return h1 * 60 + m1, h2 * 60 + m2


def _strict_networks(value: object) -> object:
    # strict=True: "10.0.0.1/8" is a typo for 10.0.0.0/8, not a host (as trusted_proxies).
    if isinstance(value, list):
        return [ipaddress.ip_network(str(item), strict=True) for item in value]
    return value


class AdaptiveConfig(Strict):
    """A route's `adaptive:` block: signal weights and the thresholds on their sum."""

    step_up_at: int = Field(default=DEFAULT_STEP_UP_AT, ge=1)
    deny_at: int | None = Field(default=DEFAULT_DENY_AT, ge=1)  # None: risk never denies
    weights: dict[Signal, Annotated[int, Field(ge=0, le=1000)]] = Field(default_factory=dict)
    max_speed_kmh: float = Field(default=DEFAULT_MAX_SPEED_KMH, gt=0)
    failed_logins: int = Field(default=DEFAULT_FAILED_LOGINS, ge=1)  # raise at this many
    working_hours: WorkingHours | None = None
    reputation: list[Network] = Field(default_factory=list)

    _networks = field_validator("reputation", mode="before")(_strict_networks)

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> AdaptiveConfig:
        if self.deny_at is not None and self.deny_at <= self.step_up_at:
            raise ValueError(
                f"deny_at ({self.deny_at}) must be above step_up_at ({self.step_up_at})"
            )
        return self


class RouteAdaptiveFields(Strict):
    """Adaptive keys of a route (mixed into RouteConfig)."""

    adaptive: AdaptiveConfig | None = None
