"""What the connection level refuses, and why: the checks and their reason codes.

Contract: pure functions from what was read to a `Reason` (or None); the status each
reason is answered with is `authgate.outcomes.STATUS`'s. The data plane
answers the refusal with the gateway's own JSON body (with a request id), leaves a
decision record, and closes the connection.

* `check_head` looks at a request whose head the HTTP parser accepted.
* `classify_parse_error` names a request the parser refused, from the kind of error
  and the first bytes of the request (which say whether the request line was over).
* `RequestHint` is the method and target read from those first bytes, for the record
  of a request that never parsed.
* `BodyRefused` is raised to whoever reads a request body the client sends too slowly
  or too much of (the proxy turns it into 408 or 413 if nothing was answered yet).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from authgate.decision import Reason

# RFC 9110 §5.6.2: a method is a token.
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")
SUPPORTED_VERSIONS = ((1, 0), (1, 1))
_HINT_BYTES = 512  # enough for a record's method and the start of the target


class BodyRefused(Exception):
    """The client's request body was refused (`reason`: body-timeout, ... too-large)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class ParseError(enum.Enum):
    """What the HTTP parser refused, in its terms."""

    LINE_TOO_LONG = "line-too-long"  # the request line or one header field
    TOO_MANY_HEADERS = "too-many-headers"
    BAD_METHOD = "bad-method"
    BAD_REQUEST_LINE = "bad-request-line"  # includes a version it does not speak
    HOST = "host"  # no Host, or two (RFC 9112 §3.2)
    OTHER = "other"  # bad header syntax, conflicting framing, bad chunks ...


@dataclass(frozen=True, slots=True)
class RequestHint:
    """The start of a request line, as far as it can be read; "" when it cannot."""

    method: str = ""
    target: str = ""
    version: bytes = b""
    line_complete: bool = False

    @classmethod
    def read(cls, prefix: bytes) -> RequestHint:
        line, newline, _ = prefix[:_HINT_BYTES].partition(b"\n")
        parts = line.rstrip(b"\r").split(b" ")
        method = parts[0] if parts and _TOKEN.match(parts[0]) and len(parts[0]) <= 32 else b""
        target = parts[1] if len(parts) > 1 else b""
        version = parts[2] if len(parts) > 2 and newline else b""
        return cls(
            method.decode("ascii"),
            target.decode("latin-1"),  # the record's JSON escapes any control character
            version,
            bool(newline),
        )


def header_section_bytes(fields: Iterable[tuple[bytes, bytes]]) -> int:
    """The header section's size on the wire: `name: value\r\n` per field."""
    return sum(len(name) + len(value) + 4 for name, value in fields)


def check_head(
    method: str, version: tuple[int, int], target: str, header_bytes: int, max_header_bytes: int
) -> Reason | None:
    """A head the parser accepted, refused at the connection level."""
    if version not in SUPPORTED_VERSIONS:
        # RFC 9110 §15.6.6: 505 for a major version we do not speak on this port —
        # HTTP/2.0 and HTTP/0.9 request lines are answered, never served as HTTP/1.
        return Reason.VERSION_NOT_SUPPORTED
    if method == "CONNECT":
        # RFC 9110 §9.3.6: CONNECT asks for a tunnel; a reverse proxy offers none.
        return Reason.METHOD_NOT_ALLOWED
    if not target.startswith("/") and not target.lower().startswith(("http://", "https://")):
        # RFC 9112 §3.2.3/§3.2.4: authority-form is CONNECT's, asterisk-form is a
        # server-wide OPTIONS; neither names a routed resource.
        return Reason.REQUEST_INVALID
    if header_bytes > max_header_bytes:
        # RFC 6585 §5: 431 when the header section is too large (the 938 KB probe).
        return Reason.HEADERS_TOO_LARGE
    return None


def classify_parse_error(error: ParseError, prefix: bytes) -> Reason:
    """The reason for a request the parser refused; `prefix`: its first bytes."""
    hint = RequestHint.read(prefix)
    if error is ParseError.LINE_TOO_LONG:
        # RFC 9110 §15.5.15 (414) while still in the request line, else one field is
        # longer than the header budget: RFC 6585 §5 (431).
        return Reason.HEADERS_TOO_LARGE if hint.line_complete else Reason.URI_TOO_LONG
    if error is ParseError.TOO_MANY_HEADERS:
        return Reason.HEADERS_TOO_LARGE
    if error is ParseError.HOST:
        return Reason.HOST_INVALID
    if _unsupported_version(hint.version):
        return Reason.VERSION_NOT_SUPPORTED  # e.g. the HTTP/2 preface `PRI * HTTP/2.0`
    if error is ParseError.BAD_METHOD and hint.method and _VERSION.match(hint.version):
        # RFC 9110 §9.1: a well-formed request line whose method the gateway does not
        # know is 501; a method outside a token, or a line that is not a request line
        # at all, is a malformed request (400).
        return Reason.METHOD_NOT_IMPLEMENTED
    return Reason.REQUEST_INVALID


def _unsupported_version(version: bytes) -> bool:
    found = _VERSION.match(version)
    return found is not None and (int(found[1]), int(found[2])) not in SUPPORTED_VERSIONS
