r"""Request-target normalization: the ONE path form that routes match and upstreams get.

Contract: `normalize_path(raw)` returns a canonical path, or raises `PathRejected`
with a short `code`. The gateway matches routes, public paths and policies on that
string AND forwards that same string upstream, so the gateway and the upstream never
disagree about which resource is meant (the root of path-confusion ACL bypasses).
Idempotent: `normalize_path(normalize_path(p)) == normalize_path(p)`.
`normalize_pattern` puts operator prefixes and globs into the same form.

Rules, in order (RFC 3986 §6.2.2 syntax-based normalization, plus rejections where
upstreams are known to disagree with each other; docs/path-normalization.md):

| input                              | result                | why                          |
|------------------------------------|-----------------------|------------------------------|
| `""`, `*`, `a/b`, `http://x/`      | `not-origin-form`     | origin-form only, RFC 9112 §3.2.1 |
| literal `#`                        | `fragment`            | not in a target, RFC 9112 §3.2 |
| literal `?`                        | `question-mark`       | query goes via `split_target` |
| literal `\`                        | `backslash`           | IIS & co. read it as `/`     |
| 0x00-0x1F, 0x7F, raw or `%XX`      | `control-char`        | NUL truncation, CRLF injection |
| `%`, `%1`, `%G1`                   | `bad-escape`          | every parser guesses differently |
| `%2F`, `%5C` (any case)            | `encoded-slash`, `encoded-backslash` | CVE-2019-9901 class |
| `%23` (any case)                   | `encoded-fragment`    | decoders that cut at `#`     |
| `%C0%AE`, `%E0%80%AF`, `%FF`, ...  | `invalid-utf8`        | overlong `.`/`/`, CVE-2000-0884 |
| `%41`, `%7e`, `%2E` (unreserved)   | `A`, `~`, `.`         | RFC 3986 §2.3, §6.2.2.2      |
| `%3b`, `%c3%a9` (other escapes)    | `%3B`, `%C3%A9`       | hex uppercased, §6.2.2.1     |
| `%3F`, `%3B`                       | kept encoded          | data on both sides           |
| raw `é`, space, `"<>[]^{}`, etc.   | `%C3%A9`, `%20`, ...  | UTF-8, percent-encoded       |
| `/a;b=c/d`                         | kept                  | matrix parameters are data   |
| `/..;/x`, `/.;/x`, `/..%3B/x`      | `dot-segment-params`  | CVE-2020-1957 (`..;/` bypass) |
| `//a///b`                          | `/a/b`                | runs of `/` collapse         |
| `/a/./b`, `/a/../b`, `/../../etc`  | `/a/b`, `/b`, `/etc`  | RFC 3986 §5.2.4, after decoding |
| `/a/`, `/a/.`, `/a/..`             | `/a/`, `/a/`, `/`     | a trailing slash is kept     |

Raw bytes that are not UTF-8 reach here from aiohttp as lone surrogates
(`surrogateescape`); like their `%XX` spellings they are refused as `invalid-utf8`:
after decoding, a path must be strict UTF-8 (RFC 3629 §3 forbids overlong forms,
surrogates and code points above U+10FFFF).
Pure module: stdlib only.
"""

from __future__ import annotations

import re
import string
from typing import Literal
from urllib.parse import unquote_to_bytes

RejectCode = Literal[
    "not-origin-form",
    "fragment",
    "question-mark",
    "backslash",
    "control-char",
    "bad-escape",
    "bad-char",
    "encoded-slash",
    "encoded-backslash",
    "encoded-fragment",
    "invalid-utf8",
    "dot-segment-params",
    "dot-segment",
    "unsupported-glob",
]


class PathRejected(ValueError):
    """A request path (or operator pattern) that cannot be represented safely."""

    def __init__(self, code: RejectCode, detail: str) -> None:
        super().__init__(detail)
        self.code: RejectCode = code
        self.detail = detail


_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# pchar (RFC 3986 §3.3) plus "/": these stay literal; everything else is escaped.
_LITERAL_OK = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_HEX = frozenset(string.hexdigits)
_LITERAL_REJECTS: dict[str, tuple[RejectCode, str]] = {
    "#": ("fragment", "a literal '#' is not allowed in a request target"),
    "?": ("question-mark", "a literal '?' belongs to the query, not the path"),
    "\\": ("backslash", "a literal '\\' is not allowed in a path"),
}
_ESCAPE_REJECTS: dict[int, tuple[RejectCode, str]] = {
    0x2F: ("encoded-slash", "an encoded '/' (%2F) is not allowed in a path"),
    0x5C: ("encoded-backslash", "an encoded '\\' (%5C) is not allowed in a path"),
    # An upstream (or its framework) that decodes before routing cuts the path at the
    # `#`: `/admin%23.css` would pass a public `/**.css` rule and be served as `/admin`
    # (the web-cache-deception / Spring path-confusion class).
    0x23: ("encoded-fragment", "an encoded '#' (%23) is not allowed in a path"),
}
# The common case: nothing to decode, encode, collapse or resolve.
_ALREADY_CANONICAL = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_PARAMS = re.compile(r";|%3B")


def split_target(raw_target: str) -> tuple[str, str]:
    """Split an origin-form target into (raw path, raw query without the `?`).

    Never raises: the path is checked by `normalize_path`; the query is forwarded
    as received (its syntax is the upstream's business).
    """
    path, _, query = raw_target.partition("?")
    return path, query


_QUERY_FORBIDDEN = re.compile(r"[\x00-\x20\x7f#]")


def check_query(raw_query: str) -> None:
    """Refuse a query with a literal `#`, space or control character.

    RFC 9112 §3.2 allows none of them in a request target; a raw CR/LF or NUL that
    reached an upstream could split its logs or its own parsing (CWE-93).
    """
    if _QUERY_FORBIDDEN.search(raw_query):
        raise PathRejected("control-char", "query holds a control character, space or '#'")


def normalize_path(raw_path: str) -> str:
    """Return the canonical form of `raw_path`, or raise `PathRejected`."""
    _require_origin_form(raw_path)
    if (
        _ALREADY_CANONICAL.fullmatch(raw_path)
        and "//" not in raw_path
        and "/." not in raw_path
    ):
        return raw_path
    return _resolve(_utf8(_canonical_chars(raw_path, glob=False)), pattern=False)


def normalize_pattern(pattern: str, *, glob: bool = True) -> str:
    """Put an operator's prefix or glob into the form `normalize_path` produces.

    The same character rules apply; with `glob=True` a literal `?` is kept as the
    glob wildcard (and `*` is literal anyway). Dot segments are rejected instead of
    resolved: requests never contain them, and resolving `..` next to a wildcard
    would silently change what the pattern means.
    """
    _require_origin_form(pattern)
    return _resolve(_utf8(_canonical_chars(pattern, glob=glob)), pattern=True)


def _require_origin_form(raw: str) -> None:
    if not raw.startswith("/"):
        raise PathRejected("not-origin-form", "the path must start with '/'")


def _canonical_chars(raw: str, *, glob: bool) -> str:
    """Decode unreserved escapes, uppercase the others, escape what may not be literal."""
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "%":
            out.append(_escape(raw[index + 1 : index + 3]))
            index += 3
        else:
            out.append(_literal(char, glob=glob))
            index += 1
    return "".join(out)


def _escape(hex_pair: str) -> str:
    if len(hex_pair) != 2 or not (hex_pair[0] in _HEX and hex_pair[1] in _HEX):
        raise PathRejected("bad-escape", f"malformed percent-escape '%{hex_pair}'")
    byte = int(hex_pair, 16)
    if byte < 0x20 or byte == 0x7F:
        raise PathRejected("control-char", f"an encoded control character (%{hex_pair})")
    if byte in _ESCAPE_REJECTS:
        raise PathRejected(*_ESCAPE_REJECTS[byte])
    char = chr(byte)
    return char if char in _UNRESERVED else "%" + hex_pair.upper()


def _literal(char: str, *, glob: bool) -> str:
    if char in _LITERAL_OK or (glob and char == "?"):
        return char
    if char in _LITERAL_REJECTS:
        raise PathRejected(*_LITERAL_REJECTS[char])
    if char < " " or char == "\x7f":
        raise PathRejected("control-char", f"a control character ({ord(char):#04x})")
    try:
        data = char.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise PathRejected("bad-char", "a character that is not valid Unicode") from None
    return "".join(f"%{byte:02X}" for byte in data)


def _utf8(canonical: str) -> str:
    """Refuse a canonical path whose decoded bytes are not strict UTF-8.

    Overlong forms are the classic decoder disagreement: `%C0%AE` and `%C0%AF` are
    `.` and `/` to a lenient decoder (IIS CVE-2000-0884, Tomcat CVE-2008-2938), so
    `/a/%C0%AE%C0%AE/admin` walks out of `/a/` behind the gateway's back. Python's
    strict decoder refuses them, and surrogates and stray bytes too (RFC 3629 §3).
    """
    if "%" not in canonical:
        return canonical
    try:
        unquote_to_bytes(canonical).decode("utf-8")
    except UnicodeDecodeError:
        raise PathRejected("invalid-utf8", "the path does not decode to UTF-8") from None
    return canonical


def _resolve(path: str, *, pattern: bool) -> str:
    """Collapse `/` runs and remove dot segments (RFC 3986 §5.2.4) on a canonical path."""
    segments = path[1:].split("/")
    kept: list[str] = []
    for segment in segments:
        _check_params(segment)
        if segment in (".", "..") and pattern:
            raise PathRejected("dot-segment", f"a '{segment}' segment in a pattern")
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    trailing = segments[-1] in ("", ".", "..") and bool(kept)
    return "/" + "/".join(kept) + ("/" if trailing else "")


def _check_params(segment: str) -> None:
    # Tomcat and Spring drop everything after ';' in a segment, then resolve dot
    # segments: `/..;/admin` is `/admin` to them but a plain segment to us. Some
    # stacks decode before splitting, so an encoded ';' (%3B) counts too
    # (CVE-2020-1957, CVE-2021-41773 class).
    if ";" in segment or "%3B" in segment:
        head = _PARAMS.split(segment, maxsplit=1)[0]
        if head in (".", ".."):
            raise PathRejected("dot-segment-params", f"a '{head}' segment with parameters")
