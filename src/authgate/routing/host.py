"""Host normalization: the `Host` header and the operator's host patterns, in one form.

Contract: `normalize_host(value)` returns a lowercase hostname without port and
without a trailing dot (`App.Example.COM.:8443` -> `app.example.com`); an IPv6
literal keeps its brackets in compressed form (`[0:0::1]:80` -> `[::1]`). Anything
else raises `HostRejected` with a short `code`: a missing or empty value, userinfo
(`user@host`), a bad port, characters outside `[a-z0-9.-]`, empty labels, labels
over 63 or names over 253 characters (RFC 1035 §2.3.4).

`normalize_host_pattern(pattern)` accepts what a route may name: an exact host as
above, or `*.` followed by a hostname (any subdomain); ports and any other `*` are
rejected. Pure module: stdlib only.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

HostRejectCode = Literal["missing", "userinfo", "bad-port", "invalid", "wildcard"]


class HostRejected(ValueError):
    """A Host header (or host pattern) that cannot name a route."""

    def __init__(self, code: HostRejectCode, detail: str) -> None:
        super().__init__(detail)
        self.code: HostRejectCode = code
        self.detail = detail


_NAME = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*")
_PORT = re.compile(r"[0-9]{1,5}")
# The common case in one step: already lowercase, no trailing dot, optional port.
_COMMON = re.compile(r"([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*)(?::([0-9]{1,5}))?")


def normalize_host(host_header: str | None) -> str:
    """Return the canonical host of a `Host` header value, or raise `HostRejected`."""
    if not host_header:
        raise HostRejected("missing", "no Host")
    common = _COMMON.fullmatch(host_header)
    if common is not None and len(common[1]) <= 253:
        if common[2] is not None:
            _check_port(common[2])
        return common[1]
    name, port = _split_port(host_header)
    if port is not None:
        _check_port(port)
    return _canonical_name(name)


def normalize_host_pattern(pattern: str) -> str:
    """Return the canonical form of a route's host pattern, or raise `HostRejected`."""
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        name = _pattern_name(pattern[2:])
        if name.startswith("["):
            raise HostRejected("wildcard", "'*.' must be followed by a DNS name")
        return "*." + name
    if "*" in pattern:
        raise HostRejected("wildcard", "'*' is allowed only as '*.' at the start")
    return _pattern_name(pattern)


def _pattern_name(text: str) -> str:
    if not text:
        raise HostRejected("missing", "empty host")
    name, port = _split_port(text)
    if port is not None:
        raise HostRejected("bad-port", "a host pattern has no port (routes match any port)")
    return _canonical_name(name)


def _split_port(value: str) -> tuple[str, str | None]:
    # RFC 9110 §7.2: Host = uri-host [ ":" port ]; userinfo is not part of it, and
    # accepting `a@b` invites the classic "which host did you check?" confusion.
    if "@" in value:
        raise HostRejected("userinfo", "userinfo ('@') in Host")
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise HostRejected("invalid", "unterminated IPv6 literal")
        rest = value[end + 1 :]
        if rest and not rest.startswith(":"):
            raise HostRejected("invalid", "text after an IPv6 literal")
        return value[: end + 1], rest[1:] if rest else None
    name, colon, port = value.partition(":")
    if ":" in port:
        raise HostRejected("invalid", "more than one ':' (IPv6 needs brackets)")
    return name, port if colon else None


def _check_port(port: str) -> None:
    if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        raise HostRejected("bad-port", f"not a port: {port!r}")


def _canonical_name(name: str) -> str:
    if name.startswith("["):
        return _ipv6_literal(name)
    # ASCII first: str.lower() maps some non-ASCII letters onto ASCII ones
    # (U+212A KELVIN SIGN -> 'k'), which would let `\u212aey.example.com` pass as
    # `key.example.com`. Internationalized names must arrive as punycode (RFC 5890).
    if not name.isascii():
        raise HostRejected("invalid", "non-ASCII host (use punycode)")
    lowered = name.lower()
    if lowered.endswith("."):
        lowered = lowered[:-1]
    if not lowered:
        raise HostRejected("missing", "empty host")
    if not _NAME.fullmatch(lowered) or len(lowered) > 253:
        raise HostRejected("invalid", f"not a hostname: {name!r}")
    if any(len(label) > 63 for label in lowered.split(".")):
        raise HostRejected("invalid", "a label longer than 63 characters")
    return lowered


def _ipv6_literal(name: str) -> str:
    inner = name[1:-1]
    # Zone ids (`%25eth0`, RFC 6874) name a local interface: meaningless in Host.
    if "%" in inner:
        raise HostRejected("invalid", "zone id in an IPv6 literal")
    try:
        address = ipaddress.IPv6Address(inner)
    except ValueError:
        raise HostRejected("invalid", f"not an IPv6 literal: {name!r}") from None
    return f"[{address.compressed}]"
