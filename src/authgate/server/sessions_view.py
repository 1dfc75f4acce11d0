"""Read the current gateway session from a request, outside the route pipeline.

Contract: used by the gateway's own endpoints (userinfo, logout), which have no
route. Returns None for no cookie, a bad signature, an unknown or expired session,
or a store outage (logged) — an endpoint then acts as for an anonymous user.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from authgate.facts import RequestFacts
from authgate.identity import Identity
from authgate.server.auth_state import auth_of
from authgate.server.cookies import session_cookie
from authgate.server.edge import wire_of
from authgate.server.state import ServerRuntime
from authgate.sessions.model import Session
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)


def session_id_from_cookie(request: web.Request, facts: RequestFacts, runtime: ServerRuntime) -> str | None:
    auth = auth_of(request)
    name = session_cookie(runtime.snapshot.config.sessions, facts.scheme == "https")
    cookie = wire_of(request).cookie(name)
    if not cookie or auth.keys is None:
        return None
    return auth.keys.verify_cookie(cookie)


async def current_session(
    request: web.Request, facts: RequestFacts, runtime: ServerRuntime
) -> Session | None:
    session_id = session_id_from_cookie(request, facts, runtime)
    if session_id is None:
        return None
    try:
        return await auth_of(request).store.get(session_id, time.time())
    except StoreUnavailable:
        log.warning("session store unavailable while reading a session")
        return None


async def current_identity(
    request: web.Request, facts: RequestFacts, runtime: ServerRuntime
) -> Identity | None:
    session = await current_session(request, facts, runtime)
    return session.identity if session else None
