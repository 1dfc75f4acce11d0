"""Where the request comes from: `ip` (CIDR list) and `country` (ISO 3166-1 alpha-2).

Contract:
- `ip` holds when the client IP (from `authgate.client_ip`: X-Forwarded-For only
  from trusted proxies) is in one of the networks. An IPv4-mapped IPv6 address
  (`::ffff:10.0.0.1`, what a dual-stack socket reports) is compared as the IPv4
  address, so `10.0.0.0/8` rules hold for it; a client IP that does not parse is
  unknown. Networks are compiled with `strict=True`: `10.0.0.1/8` is a typo for
  `10.0.0.0/8`, refused at load.
- `country: {in: [..]}` / `{not_in: [..]}` compare the uppercase code of the geo
  lookup. An unknown country (no database, private address, not in the database)
  satisfies NEITHER — it is unknown: it never allows, and a deny rule about the
  country refuses it (fail closed, reason `country-unknown`).
Pure module.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.policy.verdict import Outcomes, Verdict

if TYPE_CHECKING:
    from authgate.policy.evaluate import PolicyInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4096)
def parse_address(text: str) -> Address | None:
    """The client address, IPv4-mapped IPv6 unwrapped; None when not an address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def compile_network(text: str) -> Network:
    """A CIDR (or one address); raises ValueError naming what is wrong."""
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        raise ValueError(f"{error} (write e.g. 10.0.0.0/8 or 2001:db8::/32)") from None


@dataclass(frozen=True, slots=True)
class Ip:
    path: str
    out: Outcomes
    networks: tuple[Network, ...]

    def check(self, inp: PolicyInput) -> Verdict:
        address = parse_address(inp.client_ip)
        if address is None:
            return self.out.unknown
        for network in self.networks:  # a loop, not any(<genexpr>): the hot path
            if address in network:
                return self.out.yes
        return self.out.no


@dataclass(frozen=True, slots=True)
class Country:
    path: str
    out: Outcomes
    codes: frozenset[str]
    inside: bool  # True for `in`, False for `not_in`

    def check(self, inp: PolicyInput) -> Verdict:
        country = inp.country
        if not country:
            return self.out.unknown
        listed = country.upper() in self.codes
        return self.out.yes if listed is self.inside else self.out.no
