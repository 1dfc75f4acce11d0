r"""Safe post-login / post-logout return URLs: only to the origins the gateway serves.

Contract: `check_return_url(candidate, scheme=, host=, serves_host=, other_ports=,
default=)` returns a `ReturnUrl`: `url`, an absolute ASCII URL `scheme://host/...`, and
`rejected`, whether a candidate was given and refused (for the decision record). A
safe relative candidate is placed on the
current request's `scheme` and `host`; a safe absolute candidate keeps its own host
(lowercased) and port. Anything else — missing, unsafe, unparsable — gives
`f"{scheme}://{host}{default}"`. It never raises for a bad candidate; it raises
`ValueError` only for a bad *caller* argument: a `scheme` other than http/https, a
`host` that is not a plain ASCII `host[:port]` (pass the validated request host, not
a raw header), or a `default` that is not itself a safe absolute path. Pure module:
stdlib only.

The result never contains whitespace, control characters or a backslash; non-ASCII
characters allowed in the path, query or fragment are percent-encoded (UTF-8).

A candidate is refused when (the cited advisories are oauth2-proxy's):

| #  | refused when                                        | for example                     |
|----|-----------------------------------------------------|---------------------------------|
| 1  | it is longer than 2048 characters                   | `/aaaa…`                        |
| 2  | it has a raw control, whitespace, format (bidi,     | `/\t/evil.com`, `java\tscript:` |
|    | zero-width) character, or a `\` anywhere            | `/\evil.com`, `\u202e…`         |
| 3  | percent-decoded (to a fixed point), it has a        | `/%0a/evil.com`, `/x%E2%80%AE`  |
|    | control, format or non-U+0020 whitespace character  |                                 |
| 4  | it starts with neither `/` nor `scheme:`            | `evil.com`, `?x`, `%2F%2Fevil`  |
| 5  | its path starts `//`, `/\` or `/` + whitespace:     | `//evil`, `///evil`, `/%2F/e`,  |
|    | raw, decoded, NFKC-folded, or after RFC 3986        | `/%252F/e`, `/／evil`,          |
|    | §5.2.4 dot-segment removal                          | `/.//evil`, `/%2e%2e//evil`     |
| 6  | its scheme is not http or https (in any case)       | `javascript:`, `data:`, `file:` |
| 7  | it is http while the current request is https       | `http://good.example/`          |
| 8  | `scheme:` is not followed by `//` and an authority  | `https:evil.com`, `https:/e`    |
| 9  | the authority is not ASCII `host[:port]`: userinfo, | `https://good.example@evil`,    |
|    | `%`, empty or trailing-dot labels, non-ASCII        | `https://evil。com`, `g%40e`    |
| 10 | the port is not 1-65535 in ASCII digits             | `https://good.example:0/`       |
| 11 | `serves_host(host)` is false; host lowercased, no   | `https://evil.com/`,            |
|    | port, IPv6 compressed in brackets (`[::1]`)         | `https://[::1]/`                |
| 12 | its scheme is not the current request's             | `https://…` from an http page   |
| 13 | its port is not the current request's (an absent   | `https://good.example:8443/`    |
|    | port is 80 for http, 443 for https) and not in      | from `https://good.example`     |
|    | `other_ports(host, path)` (a route's `return_ports`)|                                 |

Why: 2 and 8 are what WHATWG parsers do (strip tab/newline, read `\` as `/`, repair
missing slashes); 3 is GHSA-j7px-6hwj-hpjg (encoded whitespace between slashes);
5 is GHSA-qqxw-m5fj-f7gv (`/\`) and GHSA-5m6c-jp6f-2vcv (`/./\`, tabs) — a path
that an app behind us decodes or normalizes into `//host` is a protocol-relative
URL; 9 is userinfo and IDN spoofing (CWE-601); 6 would run script, not navigate.
12 and 13 compare origins (RFC 6454 §4: scheme, host, port), not hosts: another port
on a routed host is another server — anything listening there (a debug console, a
tenant's app, a port the gateway does not own) would receive the user straight after
sign-in, so only the port the user came in on, or one the operator lists, is trusted.

A trailing-dot host (`good.example.`) is refused although it names the same DNS host:
browsers key cookies by the literal host, so the user would land signed out.

`urllib.parse.urlsplit` is used only to cut an already-screened string: it differs
from browsers (WHATWG) on tabs, newlines, leading controls and `\` (CVE-2023-24329,
bpo-43882), which is why the character screen runs first.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

MAX_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
OtherPorts = Callable[[str, str], Collection[int]]

# Cc: C0, DEL, C1 controls (tab, CR, LF, NUL...). Cf: bidi overrides U+202A-U+202E,
# marks U+200E/U+200F, isolates U+2066-U+2069, zero-width U+200B-U+200D, U+FEFF.
# Z*: every Unicode space and line/paragraph separator. Cs/Co/Cn: nothing to navigate.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Applied to an ASCII-only, lowercased authority: no re.IGNORECASE, because in
# Unicode mode it would let U+212A KELVIN SIGN match `k`.
_AUTHORITY = re.compile(
    r"(?P<host>[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?"
)
# The current request's own authority may end in a dot: the user is already there,
# and their cookies are keyed by that literal host.
_CURRENT_HOST = re.compile(r"(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_DECODE_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class ReturnUrl:
    """Where to send the user, and whether the URL asked for was refused."""

    url: str
    rejected: bool


def _no_other_ports(host: str, path: str) -> Collection[int]:
    return ()


def check_return_url(
    candidate: str | None,
    *,
    scheme: str,
    host: str,
    serves_host: Callable[[str], bool],
    other_ports: OtherPorts = _no_other_ports,
    default: str = "/",
) -> ReturnUrl:
    """`candidate` as a safe absolute URL on a served origin, else the default."""
    host = _current_host(scheme, host, default)
    fallback = ReturnUrl(f"{scheme}://{host}{_ascii(default)}", rejected=bool(candidate))
    if candidate is None or not _screened(candidate):
        return fallback
    if candidate.startswith("/"):
        target = _relative(candidate, scheme, host)
    else:
        origin = _Origin(scheme, _port_of(scheme, host), serves_host, other_ports)
        target = _absolute(candidate, origin)
    return fallback if target is None else ReturnUrl(target, rejected=False)


@dataclass(frozen=True, slots=True)
class _Origin:
    """What an absolute candidate is checked against: the current request's origin."""

    scheme: str
    port: int
    serves_host: Callable[[str], bool]
    other_ports: OtherPorts

    def accepts(self, host: str, port: int, path: str) -> bool:
        if not self.serves_host(host):
            return False
        return port == self.port or port in self.other_ports(host, path)


def _port_of(scheme: str, authority: str) -> int:
    """The port of a checked `host[:port]`; an absent port is the scheme's default."""
    after_host = authority.rpartition("]")[2]  # an IPv6 literal is full of colons
    _, colon, port = after_host.rpartition(":")
    return int(port) if colon else DEFAULT_PORTS[scheme]


def _current_host(scheme: str, host: str, default: str) -> str:
    """Check the caller's values (lowercasing `host`): they end up in every answer."""
    if scheme not in ("http", "https"):
        raise ValueError(f"scheme must be 'http' or 'https', not {scheme!r}")
    if not (host.isascii() and _CURRENT_HOST.fullmatch(host.lower())):
        raise ValueError(f"host must be a plain host[:port], not {host!r}")
    if not _screened(default) or not _path_ok(_path_of(default)):
        raise ValueError(f"default must be a safe absolute path, not {default!r}")
    return host.lower()


def _screened(candidate: str) -> bool:
    """Length and character screen, on the raw and the percent-decoded text."""
    if not 0 < len(candidate) <= MAX_LENGTH:
        return False
    if any(_invisible(char) or char == "\\" for char in candidate):
        return False
    # An encoded space is ordinary in a path or query (`/search?q=a%20b`); an encoded
    # control never is, and some apps decode before redirecting (GHSA-j7px-6hwj-hpjg).
    return not any(_invisible(char) and char != " " for char in _decode(candidate))


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in _INVISIBLE


def _decode(text: str) -> str:
    """Percent-decode to a fixed point, so `%252F` is seen as the `/` it may become."""
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _relative(candidate: str, scheme: str, host: str) -> str | None:
    # Not urlsplit: it reads `///evil.com` as an empty authority and path
    # `/evil.com`, where a browser reads host `evil.com`.
    if not _path_ok(_path_of(candidate)):
        return None
    return f"{scheme}://{host}{_ascii(candidate)}"


def _path_of(reference: str) -> str:
    """The path of a relative reference: everything before `?` or `#`."""
    return _QUERY_OR_FRAGMENT.split(reference, 1)[0]


def _path_ok(path: str) -> bool:
    """The path cannot be read, by a browser or an app behind us, as `//host`.

    Checked raw, percent-decoded, and NFKC-folded (`／` U+FF0F folds to `/`), each
    also after RFC 3986 §5.2.4 dot-segment removal (`/.//evil` becomes `//evil`).
    """
    decoded = _decode(path)
    forms = {path, decoded, unicodedata.normalize("NFKC", decoded)}
    return all(_rooted(form) and _rooted(_remove_dot_segments(form)) for form in forms)


def _rooted(path: str) -> bool:
    """`/` alone, or `/` then a character that does not start an authority."""
    if not path.startswith("/"):
        return False
    return len(path) == 1 or not (path[1] in "/\\" or path[1].isspace())


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: what a browser requests for `path`."""
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    trailing = path.rsplit("/", 1)[-1] in (".", "..")
    return "/" + "/".join(output) + ("/" if trailing and output else "")


def _absolute(candidate: str, origin: _Origin) -> str | None:
    match = _SCHEME.match(candidate)
    if match is None:
        return None
    # Same scheme only (rows 6, 7, 12): http from an https page would send the
    # session's first request in clear; an upgrade is another origin as well.
    if match[1].lower() != origin.scheme:
        return None
    scheme = origin.scheme
    rest = candidate[match.end() :]
    # `https:evil.com` and `https:/evil.com` are repaired by WHATWG parsers into
    # `https://evil.com/`; only the explicit `//authority` form is read the same way
    # by every parser.
    if not rest.startswith("//"):
        return None
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if not _path_ok(parts.path or "/"):
        return None
    authority = _authority(parts.netloc, parts.path or "/", origin)
    if authority is None:
        return None
    tail = rest[2 + len(parts.netloc) :]
    if not tail.startswith("/"):
        tail = "/" + tail
    return f"{scheme}://{authority}{_ascii(tail)}"


def _authority(netloc: str, path: str, origin: _Origin) -> str | None:
    """`host[:port]` when it is plain ASCII and a served origin; userinfo, `%`, IDN refused."""
    # Non-ASCII is refused, not normalized: IDNA maps `。` (U+3002) to `.` and
    # fullwidth letters to ASCII, so the host we check would not be the one visited.
    if not netloc.isascii():
        return None
    match = _AUTHORITY.fullmatch(netloc.lower())
    if match is None:
        return None
    host = _canonical_ip6(match["host"]) if match["host"].startswith("[") else match["host"]
    port = match["port"]
    if host is None or (port is not None and not 0 < int(port) < 65536):
        return None
    if not origin.accepts(host, DEFAULT_PORTS[origin.scheme] if port is None else int(port), path):
        return None
    return host if port is None else f"{host}:{port}"


def _canonical_ip6(literal: str) -> str | None:
    """`[0:0::1]` -> `[::1]`, the form the route table uses; None if not IPv6."""
    try:
        return f"[{ipaddress.IPv6Address(literal[1:-1]).compressed}]"
    except ValueError:
        return None


def _ascii(text: str) -> str:
    """Percent-encode non-ASCII (UTF-8) so the `Location` header is plain ASCII."""
    if text.isascii():
        return text
    return "".join(char if char.isascii() else quote(char, safe="") for char in text)
