"""Credentials scrubbed from operational log lines: message and traceback alike.

Contract: `redact(text, cookie_names)` is pure and returns `text` with every credential
it recognises replaced by `[redacted]`: the value after `Bearer` / `Basic` / `DPoP`, any
JWT-shaped string (a JWS or JWE: base64url segments, the first `eyJ` — the encoding of
`{"`), the value of a `Cookie:` / `Set-Cookie:` / `Authorization:` header (also as
Python prints a header mapping: `'Cookie': '...'`), OAuth parameters that carry a
secret (`access_token=`, `code=` ...), and the value of each configured cookie name
(`authgate=...`, `__Host-authgate-login=...`). `RedactFilter` applies it to a log
record before any formatter sees it — the rendered message, and the traceback and
stack, which it formats itself so that no formatter renders the raw exception again.

Why: exception text is built from whatever the failing code held — a header mapping, a
token response, a URL with `?code=`. A log line is read by more people and kept longer
than the session it came from (OWASP Logging Cheat Sheet: "session identifiers, access
tokens ... should not be recorded directly"; CWE-532).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[redacted]"

# Header values up to the end of the line or the closing quote of a printed mapping.
_HEADER = re.compile(
    r"""(?i)\b((?:set-)?cookie|authorization|proxy-authorization)(['"]?\s*[:=,]\s*['"]?)([^'"\r\n]+)"""
)
_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+")
# RFC 9449 §7.1 `DPoP <token>`; 16+ characters, so "DPoP proof" stays readable.
_DPOP = re.compile(r"(?i)\b(dpop)(\s+)[A-Za-z0-9._~+/=-]{16,}")
# RFC 7515 §7.1 compact JWS (3 segments) and RFC 7516 §7.1 JWE (5); the header always
# starts with '{"', so `eyJ` keeps host names like a.b.example out.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){2,4}")
_OAUTH_PARAMS = re.compile(
    r"(?i)\b(access_token|refresh_token|id_token|client_secret|code_verifier|password"
    r"|(?<=[?&])code)(['\"]?\s*[=:]\s*['\"]?)([^&\s'\",;]+)"
)


def _cookie_values(names: Iterable[str]) -> re.Pattern[str] | None:
    bases = sorted({name for name in names if name}, key=len, reverse=True)
    if not bases:
        return None
    # With the __Host-/__Secure- prefixes and the -login suffix the gateway adds.
    alternatives = "|".join(re.escape(base) for base in bases)
    return re.compile(rf"(?i)\b((?:__Host-|__Secure-)?(?:{alternatives})[A-Za-z0-9_-]*)(=)([^;,\s'\"]+)")


def redact(text: str, cookie_names: Iterable[str] = ()) -> str:
    text = _HEADER.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _SCHEME.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _DPOP.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _JWT.sub(MASK, text)
    text = _OAUTH_PARAMS.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    cookies = _cookie_values(cookie_names)
    if cookies is not None:
        text = cookies.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    return text


class RedactFilter(logging.Filter):
    """On the handler, so it sees every record, whichever logger it came from."""

    def __init__(self, cookie_names: Iterable[str] = ()) -> None:
        super().__init__()
        self.cookie_names: tuple[str, ...] = tuple(cookie_names)  # replaced on reload
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        names = self.cookie_names
        record.msg = redact(record.getMessage(), names)
        record.args = None
        if record.exc_info:
            # Formatted here and cached in exc_text, so no formatter formats it again.
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, names)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, names)
        return True
