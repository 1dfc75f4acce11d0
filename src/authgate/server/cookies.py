"""The gateway's cookies: names, attributes, and reading them back.

Contract: every cookie the gateway sets goes through `set_cookie`, so all of them are
`HttpOnly` (no script can read a session id — XSS theft), `SameSite=Lax` (not sent on
cross-site subrequests: CSRF; still sent on the top-level redirect back from the
provider), `Path=/`, and `Secure` when the client used https. Without a cookie domain
the name gets the `__Host-` prefix over https (RFC 6265bis §4.1.3.2): the browser then
refuses the cookie from any subdomain, which stops cookie tossing / session fixation
from a sibling host. Cookies are read back from the request's `Wire` (`Wire.cookie`),
across every `Cookie` header (folded as RFC 9113 §8.2.3 says), where aiohttp's
`request.cookies` reads only the first, so the gateway sees the same cookies as the
duplicate check (`authgate.credentials`) and the upstream.
"""

from __future__ import annotations

from aiohttp import web

from authgate.config.schema_auth import SessionsConfig

LOGIN_SUFFIX = "-login"


def cookie_name(base: str, sessions: SessionsConfig, secure: bool) -> str:
    if secure and sessions.cookie_domain is None:
        return "__Host-" + base
    return base


def session_cookie(sessions: SessionsConfig, secure: bool) -> str:
    return cookie_name(sessions.cookie_name, sessions, secure)


def login_cookie(sessions: SessionsConfig, secure: bool) -> str:
    return cookie_name(sessions.cookie_name + LOGIN_SUFFIX, sessions, secure)


def gateway_cookies(sessions: SessionsConfig, secure: bool) -> tuple[str, str]:
    """The session and login cookie names for a request over http(s)."""
    return session_cookie(sessions, secure), login_cookie(sessions, secure)


def set_cookie(
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    sessions: SessionsConfig,
    secure: bool,
    max_age: float,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(max_age),
        path="/",
        domain=None if name.startswith("__Host-") else sessions.cookie_domain,
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(
    response: web.StreamResponse, name: str, *, sessions: SessionsConfig, secure: bool
) -> None:
    set_cookie(response, name, "", sessions=sessions, secure=secure, max_age=0)


def clear_session_cookie(
    response: web.StreamResponse, sessions: SessionsConfig, secure: bool
) -> None:
    """Drop a session cookie that names nothing usable (tampered, ended)."""
    clear_cookie(response, session_cookie(sessions, secure), sessions=sessions, secure=secure)
