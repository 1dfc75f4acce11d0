"""Absolute-form request targets, read the RFC 9112 §3.2.2 way at the edge.

Contract: `origin_form(target, hosts, version)` is called by both front ends
(`dataplane/protocol.py`, `server/protocol.py`) on a head `check_head` accepted, so
`target` is origin-form or begins `http://` / `https://` (any case); `hosts` are the
values of the Host fields received. For any target but absolute-form it returns None:
nothing to rewrite. For absolute-form it returns the `OriginForm` the request goes on
as — `target`: the path and query, "/" for an empty path (RFC 9112 §3.2.1), and
`host`: the target's authority, which becomes the request's one Host field (§3.2.2:
"the origin server MUST ignore the received Host header field (if any) and instead
use the host information of the request-target") — or the `Reason` it is refused
with. Routing, the facts, the hand-over to aiohttp and the decision log then only
ever see origin-form, and the host routes match is the one the target names.

Refused with 400 `host-invalid`:

* an empty authority (`http:///x`): RFC 9110 §4.2.1, a recipient MUST reject an
  http URI with an empty host as invalid;
* userinfo (`http://echo.test@evil.test/`): RFC 9110 §4.2.4, a recipient SHOULD
  treat it as an error — the classic spoof, one reader sees echo.test, another
  evil.test (`normalize_host` refuses the `@`);
* an authority `normalize_host` refuses (a bad port, a character outside a name);
* received Host fields that break RFC 9112 §3.2 — none in an HTTP/1.1 request, more
  than one, or one with an invalid value. §3.2's 400 is for "any request message"
  whatever the form of its target (a client MUST send Host in HTTP/1.1 "even if the
  request-target is in the absolute-form"); aiohttp's parser refuses the missing and
  the duplicate ones before the target is looked at, and nginx
  (`ngx_http_process_host`) the duplicate and the invalid ones.

The target's scheme is not used: the listener, not the client, says whether the
request came over TLS (an `https://` target on a plain listener is served as http).
A fragment (`http://h/x#f`, `http://h#f`) stays in the origin-form target, where the
path rules refuse it as they refuse `/x#f` (RFC 9112 §3.2: no request target carries
one). Pure module: stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from authgate.decision import Reason
from authgate.routing.host import HostRejected, normalize_host

# scheme "://" authority, then the rest: RFC 3986 §3.2, the authority ends at the
# first "/", "?" or "#" (a "\" is left in it, and normalize_host refuses it).
_ABSOLUTE = re.compile(r"https?://([^/?#]*)(.*)", re.IGNORECASE | re.DOTALL)


class OriginForm(NamedTuple):
    """What an absolute-form request goes on as."""

    target: str  # origin-form: path and query
    host: str  # the target's authority, as written: the request's Host


def origin_form(target: str, hosts: Sequence[str], version: tuple[int, int]) -> OriginForm | Reason | None:
    """The origin-form of an absolute-form `target`, or its refusal; None: not one."""
    if target.startswith("/"):
        return None  # the common case first
    found = _ABSOLUTE.fullmatch(target)
    if found is None:
        return None
    authority, rest = found[1], found[2]
    if not _valid_host(authority) or not _received_hosts_valid(hosts, version):
        return Reason.HOST_INVALID
    return OriginForm(rest if rest.startswith("/") else "/" + rest, authority)


def _received_hosts_valid(hosts: Sequence[str], version: tuple[int, int]) -> bool:
    # RFC 9112 §3.2: no Host in HTTP/1.1, two or more, or an invalid one is a 400.
    if len(hosts) > 1:
        return False
    if not hosts:
        return version < (1, 1)
    return _valid_host(hosts[0])


def _valid_host(value: str) -> bool:
    try:
        normalize_host(value)
    except HostRejected:
        return False
    return True
