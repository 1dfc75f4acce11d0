"""How identity values are written into HTTP header fields, and how names are compared.

Contract (what an upstream decodes with `urllib.parse.unquote`):

* A value is UTF-8, percent-encoded (RFC 3986 §2.1, the encoding RFC 8187 uses for
  `ext-value`) for every byte outside printable ASCII, for `%` itself, and for a space
  at either end. So `Zoë 山田` travels as `Zo%C3%AB %E5%B1%B1%E7%94%B0`, a plain ASCII
  value travels unchanged, and `unquote(header) == value` always holds.
* No CR, LF, NUL or other control character can reach the wire, whatever an identity
  provider put in a claim: they are outside printable ASCII (CWE-113, HTTP request
  splitting). Spaces at the ends are encoded because HTTP strips them (RFC 9110 §5.5).
  A lone surrogate, which has no UTF-8 form, is sent as `?`.
* In a list (`groups`, `roles`, `amr`) items are joined with `,` and a `,` inside an
  item is encoded as `%2C`, so the list splits back unambiguously.
* `normalize_name` lower-cases a header name and maps `_` and `.` to `-`: WSGI/CGI
  servers (gunicorn, PHP, nginx with `underscores_in_headers`) give `X-Authgate-User`
  and `X_Authgate_User` the same `HTTP_X_AUTHGATE_USER` variable (gunicorn#2799,
  oauth2-proxy GHSA-vjrc-mh2v-45x6 / CVE-2025-64484), and PHP also maps `.` to `_`.

Pure module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

# Printable ASCII that `quote` would otherwise encode; `%` is left out on purpose.
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "%")
_SAFE_IN_LIST = _SAFE.replace(",", "")
# Values that need no encoding at all (the common case, checked in one C call):
# printable ASCII without `%` (and without `,` in a list item), no space at either end.
_PLAIN = re.compile(r"[\x21-\x24\x26-\x7e](?:[\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?")
_PLAIN_ITEM = re.compile(
    r"[\x21-\x24\x26-\x2b\x2d-\x7e](?:[\x20-\x24\x26-\x2b\x2d-\x7e]*[\x21-\x24\x26-\x2b\x2d-\x7e])?"
)


_FOLD = str.maketrans("_.", "--")


def normalize_name(name: str) -> str:
    return name.lower().translate(_FOLD)


def encode_value(value: str) -> str:
    """Percent-encode `value` for a header field (see the module contract)."""
    if _PLAIN.fullmatch(value):
        return value
    return _encode(value, _SAFE)


def encode_list(items: Sequence[str] | Iterable[str]) -> str:
    """Encode each item (commas included) and join them with `,`."""
    items = items if isinstance(items, (tuple, list)) else list(items)
    if all(map(_PLAIN_ITEM.fullmatch, items)):
        return ",".join(items)
    return ",".join(i if _PLAIN_ITEM.fullmatch(i) else _encode(i, _SAFE_IN_LIST) for i in items)


def is_token_value(value: str) -> bool:
    """True for a credential that can be sent verbatim: printable ASCII, no spaces."""
    return value.isascii() and value.isprintable() and " " not in value and value != ""


def _encode(value: str, safe: str) -> str:
    # A lone surrogate (JSON allows "\ud800") has no UTF-8 form: it is sent as `?`
    # instead of raising on the request path.
    encoded = quote(value, safe=safe, errors="replace")
    core = encoded.strip(" ")
    if core == encoded:
        return encoded
    head = len(encoded) - len(encoded.lstrip(" "))
    tail = len(encoded) - len(encoded.rstrip(" "))
    return "%20" * head + core + "%20" * tail if core else "%20" * len(encoded)
