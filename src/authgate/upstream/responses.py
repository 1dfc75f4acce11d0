"""The 401 an upstream helper answers when the assertion is missing or invalid.

Contract: one body and one `WWW-Authenticate` challenge (a 401 must carry one,
RFC 9110 §15.5.2) shared by the aiohttp and ASGI middlewares. The reason is a code
from the closed set of `verifier.REASONS`, never the token or an exception text.
"""

from __future__ import annotations

import json

STATUS = 401
SCHEME = "AuthgateAssertion"


def challenge(reason: str) -> str:
    return f'{SCHEME} realm="authgate", error="{reason}"'


def body(reason: str) -> bytes:
    return json.dumps({"error": "invalid_assertion", "reason": reason}).encode()
