"""The answer's rate-limit header fields, as pure functions of the limits' results.

Contract: field values in the structured-field form of the IETF draft "RateLimit
header fields for HTTP", draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026),
serialized as RFC 9651 (Structured Field Values) prescribes:

    RateLimit-Policy: "user-600-per-m";q=600;w=60       §3: quota q per window w
    RateLimit: "user-600-per-m";r=59;t=1                 §4: r available, t seconds
    Retry-After: 2                                       RFC 9110 §10.2.3, on a refusal

`q` and `w` are the operator's rate as written (`600/m` -> q=600, w=60). `r` is the
GCRA's `remaining`: what could pass at once right now. `t` is the draft's effective
window, the seconds within which the client should use no more than `r` (§4.1.2):
on a passed request the time until the full burst is back (`reset_after`) — a
conservative window, as §8.5 asks; on a refused one the wait until a request would
pass, equal to Retry-After, because the draft wants Retry-After to reference no point
before the end of the effective window (§6) and B.1.4 shows both at the same moment.
Seconds are integers (delay-seconds, §3.1.3 and §4.1.2), rounded up so a client that
waits them is never early.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from authgate.config.schema_limits import RateLimitConfig
from authgate.ratelimit.gcra import EPSILON, GcraResult

DRAFT = "draft-ietf-httpapi-ratelimit-headers-11"
_PRINTABLE = re.compile(r"[ -~]*")


class LimitStatus(NamedTuple):
    """One limit's verdict on a request, with what its headers say about it."""

    name: str
    quota: int  # q: requests per window
    window: int  # w: seconds
    result: GcraResult
    advertise: bool = True  # the limit's `headers:` option

    @classmethod
    def of(cls, config: RateLimitConfig, result: GcraResult) -> LimitStatus:
        rate = config.rate
        return cls(config.policy_name, rate.count, rate.period, result, config.headers)


@lru_cache(maxsize=1024)
def sf_string(value: str) -> str:
    """An RFC 9651 §4.1.6 sf-string: printable ASCII, `\\` and `"` escaped."""
    # Cached: the values are limit names, a handful per config, on every answer.
    if not _PRINTABLE.fullmatch(value):
        raise ValueError(f"not serializable as an sf-string: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def delay_seconds(seconds: float) -> int:
    """Whole seconds, rounded up (float noise below 1 µs does not add a second)."""
    return max(0, math.ceil(seconds - EPSILON))


@lru_cache(maxsize=1024)
def policy_item(name: str, quota: int, window: int) -> str:
    """A quota policy item (§3.1): `"name";q=600;w=60`."""
    return f"{sf_string(name)};q={quota};w={window}"


def service_limit_item(name: str, remaining: int, reset: int) -> str:
    """A service limit item (§4.1): `"name";r=50;t=30`."""
    return f"{sf_string(name)};r={remaining};t={reset}"


def effective_window(result: GcraResult) -> int:
    """`t`: see the module docstring for why it differs on a refusal."""
    return delay_seconds(result.reset_after if result.allowed else result.retry_after)


def retry_after(seconds: float) -> str:
    """A Retry-After value: at least 1, since 0 would invite an instant retry storm."""
    return str(max(1, delay_seconds(seconds)))


def rate_limit_headers(statuses: Sequence[LimitStatus]) -> dict[str, str]:
    """The fields for an answer checked against `statuses` (empty: no fields).

    RateLimit-Policy and RateLimit list the advertised limits, in order; Retry-After
    is present when any limit refused, with the longest of their waits, whether or
    not that limit is advertised.
    """
    policies: list[str] = []
    limits: list[str] = []
    longest: float | None = None
    for status in statuses:
        result = status.result
        if status.advertise:
            policies.append(policy_item(status.name, status.quota, status.window))
            limits.append(
                service_limit_item(status.name, result.remaining, effective_window(result))
            )
        if not result.allowed and (longest is None or result.retry_after > longest):
            longest = result.retry_after
    fields: dict[str, str] = {}
    if policies:
        fields["RateLimit-Policy"] = ", ".join(policies)
        fields["RateLimit"] = ", ".join(limits)
    if longest is not None:
        fields["Retry-After"] = retry_after(longest)
    return fields
