"""Request ids: accepted from a trusted proxy, otherwise generated.

Contract: `request_id(incoming, peer_trusted)` always returns a short token safe to
put in headers, logs and HTML. An id from an untrusted client is ignored: it would
let anyone forge or collide the id that ties a decision record to a complaint.
"""

from __future__ import annotations

import os
import re

HEADER = "X-Request-Id"
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    """128 random bits, hex: unique across replicas without coordination."""
    return os.urandom(16).hex()


def request_id(incoming: str | None, peer_trusted: bool) -> str:
    if peer_trusted and incoming is not None and _ACCEPTABLE.fullmatch(incoming):
        return incoming
    return new_request_id()
