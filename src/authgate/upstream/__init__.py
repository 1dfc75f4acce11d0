"""Helpers for upstream apps behind authgate: verify the signed identity assertion.

Contract: an app imports this package — and nothing else of authgate's gateway code is
loaded (no config, server or policy modules; checked by a test) — builds one
`AssertionVerifier` pointed at the gateway's `/.authgate/jwks.json`, and installs
either `aiohttp_middleware(verifier)` (claims in `request[ASSERTION_CLAIMS]`) or
`AssertionMiddleware(app, verifier)` for ASGI (claims in `scope["authgate.assertion"]`).
Identity headers are a convenience; the assertion is what an app should trust when
it can be reached by anything other than the gateway.
"""

from authgate.upstream.aiohttp_middleware import ASSERTION_CLAIMS, aiohttp_middleware
from authgate.upstream.asgi import SCOPE_KEY, AssertionMiddleware
from authgate.upstream.verifier import REASONS, AssertionInvalid, AssertionVerifier

__all__ = [
    "ASSERTION_CLAIMS",
    "REASONS",
    "SCOPE_KEY",
    "AssertionInvalid",
    "AssertionMiddleware",
    "AssertionVerifier",
    "aiohttp_middleware",
]
