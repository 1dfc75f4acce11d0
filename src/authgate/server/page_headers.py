"""Headers on every answer the gateway writes itself, and a `Server` header without versions.

Contract:

* `secure_answer(headers, policy)` adds to an answer the gateway wrote — a page, a JSON
  error, a redirect, an endpoint's JSON; never a proxied response — the browser
  hardening headers below. `Cache-Control: no-store` is set unless the answer chose its
  own caching (the public `jwks.json` is cacheable on purpose). The handler calls it
  once, for every answer that is not yet on the wire (`server/handler.py`).
  `policy` is the pages' `Content-Security-Policy` (`PageRenderer.content_security_policy`).
* `hide_server_version()` makes every response aiohttp prepares in this process say
  `Server: authgate` instead of `Python/3.x aiohttp/3.x` — answers, proxied responses
  (whose upstream `Server` is dropped, as nginx's and Envoy's defaults do), WebSocket
  handshakes, the admin listener and aiohttp's own parser refusals. A version string
  only tells a scanner which advisories to try (OWASP WSTG-INFO-02).
"""

from __future__ import annotations

from collections.abc import MutableMapping

from aiohttp import web_response

SERVER_NAME = "authgate"

_HARDENING = {
    "X-Frame-Options": "DENY",  # RFC 7034; for browsers without frame-ancestors
    "X-Content-Type-Options": "nosniff",  # no reading a JSON error as HTML
    # The callback URL carries the authorization code and state: its redirect must not
    # hand them to the next site in a Referer (RFC 9700 §4.2.4, RFC 6749 §10.6).
    "Referrer-Policy": "no-referrer",
}


def secure_answer(headers: MutableMapping[str, str], policy: str) -> None:
    """Add the hardening headers to an answer of the gateway's own (see the contract)."""
    headers["Content-Security-Policy"] = policy
    headers.update(_HARDENING)
    # Error pages and redirects name request ids, users and return URLs: never stored
    # by a browser or a shared cache (RFC 9111 §5.2.2.5).
    headers.setdefault("Cache-Control", "no-store")
    headers["Server"] = SERVER_NAME


def hide_server_version() -> None:
    """Make `Server: authgate` the default of every response aiohttp prepares.

    aiohttp has no setting for it: `StreamResponse` fills in the module constant
    `SERVER_SOFTWARE` unless a `Server` header is set, including on the parser-level
    400s it writes before any handler runs. Idempotent; tests/hardening pin it.
    """
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]
