"""Which bucket a request falls in: the logical key of one rate limit.

Contract: `limit_key(config, route_id=..., client_ip=..., user=..., session_id=...,
headers=...)` is pure and answers `<route>:<limit name>:<kind>:<value>`, a short
string of safe characters that a limiter stores as it is. Every limit applies to
every request of its route:

- `client_ip` keys by address — IPv6 by its /64, the block one subscriber gets, since
  a host can rotate through the addresses of its /64 at will (RFC 8981).
- `user` and `session` key by the authenticated user / session; an anonymous request
  falls back to its client IP (kind `ip`), so a flood without a login is limited too
  and cannot share a bucket with a user named like an address.
- `header:<Name>` keys by that request header; a request without it falls back to
  its client IP, so leaving the header out does not escape the limit.
- `route` is one bucket for the whole route.

Values an attacker chooses are never stored as sent: session ids (secrets) and
header values (often API keys) are always hashed, other values when longer than
64 characters or outside a safe alphabet — SHA-256, truncated to 128 bits — so a
Redis key stays short whatever the request carries.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping

from authgate.config.schema_limits import RateLimitConfig

_SAFE = re.compile(r"[A-Za-z0-9._@+:-]{1,64}")
_HEADER_PREFIX = "header:"


def hashed(value: str) -> str:
    """`#` and 128 bits of SHA-256, in hex: fixed length, no secret in the clear."""
    # `#` is outside the safe alphabet, so no plain value (a user who names
    # themselves like someone else's hash) can ever land in a hashed bucket.
    return "#" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def safe_part(value: str) -> str:
    """`value` itself when short and plain, else its hash."""
    return value if _SAFE.fullmatch(value) else hashed(value)


def ip_part(client_ip: str) -> str:
    """An IPv4 address as it is; an IPv6 address as its /64 network."""
    if ":" not in client_ip:
        return safe_part(client_ip)
    try:
        address = ipaddress.IPv6Address(client_ip.partition("%")[0])
    except ValueError:
        return safe_part(client_ip)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return f"{ipaddress.IPv6Network((address, 64), strict=False).network_address}/64"


def limit_key(
    config: RateLimitConfig,
    *,
    route_id: str,
    client_ip: str,
    user: str | None,
    session_id: str | None,
    headers: Mapping[str, str],
) -> str:
    """The bucket of this request under this limit (see the module docstring)."""
    kind, value = _kind_and_value(config.key, client_ip, user, session_id, headers)
    return f"{route_id}:{config.policy_name}:{kind}:{value}"


def _kind_and_value(
    key: str,
    client_ip: str,
    user: str | None,
    session_id: str | None,
    headers: Mapping[str, str],
) -> tuple[str, str]:
    if key == "route":
        return "route", "-"
    if key == "user" and user:
        return "user", safe_part(user)
    if key == "session" and session_id:
        return "session", hashed(session_id)
    if key.startswith(_HEADER_PREFIX):
        value = header_value(headers, key[len(_HEADER_PREFIX) :])
        if value:
            return "header", hashed(value)
    return "ip", ip_part(client_ip)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The header's first value, whatever the mapping's case handling."""
    value = headers.get(name)
    if value is not None:
        return value
    # aiohttp's request.headers is case-insensitive; a plain dict is not, and a
    # miss must not let a differently-cased header slip past its limit.
    wanted = name.lower()
    for candidate, found in headers.items():
        if candidate.lower() == wanted:
            return found
    return None
