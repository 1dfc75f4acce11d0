"""The client address of a request: the TCP peer, or X-Forwarded-For behind trusted proxies.

Contract (uvicorn's ProxyHeadersMiddleware and Home Assistant's forwarded middleware):

* Peer `None` (a unix socket) or a peer that is not an IP address -> ``"unknown"``.
* Peer not in the trusted proxies -> the peer. X-Forwarded-For is ignored entirely:
  any client can write that header, and trusting it from anyone was oauth2-proxy's
  old default that let users spoof their address past IP rules and rate limits.
  An empty trusted list (the default) therefore means "never read the header".
* Peer trusted -> all X-Forwarded-For lines joined in order into one comma list
  (RFC 9110 §5.3: several field lines are one list), walked from the RIGHT. Trusted
  addresses are skipped; the first untrusted address is the client. Only the part of
  the list right of the first untrusted address was written by proxies we trust.
* Every entry trusted -> the leftmost entry.
* A malformed entry on the walk (not an IP: ``unknown``, empty, an RFC 7239
  obfuscated ``_id``, a zone id, a hostname) stops the walk and the answer is the
  last trusted hop seen, the address that handed us the garbage. We never skip past
  garbage to a value further left, which an attacker chose. Empty elements count as
  malformed, although RFC 9110 §5.6.1 lets a generic list parser skip them: here each
  element is one hop's record, and an empty one breaks the chain of custody.
* At most `MAX_HOPS` entries are walked; a longer chain of trusted hops stops there
  as if the next entry were malformed, so a 10k-entry header costs bounded time.
  An entry longer than any valid form (64 characters) is malformed without parsing.

Accepted entry forms: ``1.2.3.4``, ``1.2.3.4:8080``, ``2001:db8::1``,
``[2001:db8::1]``, ``[2001:db8::1]:8080``; spaces and tabs around entries (OWS) are
ignored. IPv4-mapped IPv6 (``::ffff:10.0.0.1``) is the IPv4 address, for matching and
in the answer. The answer is the `ipaddress` text form: compressed, lowercase. A zone
id (``fe80::1%eth0``) in an entry is malformed; on the kernel-reported peer it is dropped.
Parsed addresses are kept in a bounded LRU cache keyed by entry text.

Pure module: no aiohttp import (STYLE.md, lessons 4 and 9).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"
MAX_HOPS = 64
"""Entries walked at most; real chains are a handful of proxies deep."""

_OWS = " \t"
# The longest valid entry, `[0000:0000:0000:0000:0000:ffff:255.255.255.255]:65535`, is 53
# characters; anything longer is malformed unparsed, and never a key in the cache.
_MAX_ENTRY = 64
_MAPPED_V4 = ipaddress.IPv6Network("::ffff:0:0/96")


def _unmap(addr: Address) -> Address:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _split_port(text: str) -> str | None:
    """The host part of `host`, `v4:port`, `[v6]` or `[v6]:port`; None if malformed."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_ok = not rest or (rest.startswith(":") and _is_port(rest[1:]))
        # Brackets hold IPv6 literals only (RFC 3986 §3.2.2), never `[1.2.3.4]`.
        return host if sep and port_ok and ":" in host else None
    if text.count(":") == 1:  # more than one colon is a bare IPv6 address
        host, _, port = text.partition(":")
        return host if _is_port(port) else None
    return text


def _is_port(port: str) -> bool:
    return 0 < len(port) <= 5 and port.isascii() and port.isdigit() and int(port) <= 65535


def parse_address(text: str) -> Address | None:
    """One X-Forwarded-For entry as an address, or None when it is malformed."""
    host = _split_port(text.strip(_OWS))
    if not host or "%" in host:
        # A zone id names an interface on the sender's host, meaningless to us.
        return None
    try:
        return _unmap(ipaddress.ip_address(host))
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Address | None:
    # Peers, proxies and returning clients repeat, and `ip_address()` costs microseconds.
    # Bounded in entries and (by _MAX_ENTRY) in key size, so churn costs only misses.
    return parse_address(text)


@functools.lru_cache(maxsize=4096)
def _text(addr: Address) -> str:
    # The peer's text form on every request: `str()` of an address formats it afresh
    # each time (microseconds); peers repeat, and the cache is bounded as above.
    return str(addr)


def _entry_address(entry: str) -> Address | None:
    entry = entry.strip(_OWS)
    return None if len(entry) > _MAX_ENTRY else _parse_cached(entry)


def _peer_address(peer: str | None) -> Address | None:
    if not peer:
        return None
    # The kernel reports link-local peers as fe80::1%eth0; the zone is real but not
    # part of who the client is, so it is dropped here (and only here).
    return _entry_address(peer.partition("%")[0])


def _as_pairs(networks: Iterable[Network], version: int) -> tuple[tuple[int, int], ...]:
    return tuple(
        (int(n.network_address), int(n.netmask)) for n in networks if n.version == version
    )


def _unmap_network(net: Network) -> Network:
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_MAPPED_V4):
        # ::ffff:10.0.0.0/104 in the config is 10.0.0.0/8: peers are unmapped too.
        return ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
    return net


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The configured trusted proxy networks, compiled once for fast membership tests."""

    networks: tuple[Network, ...] = ()
    _v4: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _v6: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nets = [_unmap_network(n) for n in self.networks]
        object.__setattr__(self, "_v4", _as_pairs(nets, 4))
        object.__setattr__(self, "_v6", _as_pairs(nets, 6))

    @classmethod
    def from_networks(cls, networks: Iterable[Network]) -> TrustedProxies:
        return cls(tuple(networks))

    def contains(self, ip: str | Address) -> bool:
        """Whether `ip` (text or address; IPv4-mapped counts as IPv4) is trusted."""
        addr = _entry_address(ip) if isinstance(ip, str) else _unmap(ip)
        if addr is None:
            return False
        value = int(addr)
        for network, mask in self._v4 if addr.version == 4 else self._v6:
            if value & mask == network:
                return True
        return False


def trusted_peer(peer: str | None, trusted: TrustedProxies) -> bool:
    """Whether the TCP peer is a trusted proxy (whose X-* headers may be believed)."""
    addr = _peer_address(peer)
    return addr is not None and trusted.contains(addr)


def client_ip(
    peer: str | None,
    forwarded_for: Sequence[str] | str | None,
    trusted: TrustedProxies,
) -> str:
    """The client address of a request; see the module docstring for the rules."""
    addr = _peer_address(peer)
    if addr is None:
        return UNKNOWN
    if not forwarded_for or not trusted.contains(addr):
        return _text(addr)
    return str(_walk(_rightmost_entries(forwarded_for), trusted, addr))


def _rightmost_entries(forwarded_for: Sequence[str] | str) -> list[str]:
    """The rightmost `MAX_HOPS` entries, plus one remainder element if there are more."""
    joined = forwarded_for if isinstance(forwarded_for, str) else ",".join(forwarded_for)
    # rsplit with a limit does bounded work on a huge header; the leftmost piece holds
    # whatever lies beyond the cap and is never parsed.
    return joined.rsplit(",", MAX_HOPS)


def _walk(entries: list[str], trusted: TrustedProxies, last_trusted: Address) -> Address:
    for entry in reversed(entries[-MAX_HOPS:]):
        addr = _entry_address(entry)
        if addr is None:
            return last_trusted
        if not trusted.contains(addr):
            return addr
        last_trusted = addr
    return last_trusted
