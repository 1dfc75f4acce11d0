"""The grants API on the admin listener: what `authgate grant|revoke|grants` call.

Contract: `add_access_routes(admin, main)` adds, to the admin application only:

* `GET /access/grants` — the stored grants, newest request first (`?limit=`, at most
  1000), each as its JSON fields plus `status` (the state at this moment: an active
  grant past its end is `expired`).
* `POST /access/grants` — JSON `{"operator", "provider", "subject", "user",
  "entitlement", "duration", "reason", "ticket", "route"}`: an operator's grant,
  active at once (201); or `{"operator", "approve": "<grant id>"}`: approve a request.
* `POST /access/grants/{id}/revoke` — `{"operator", "note"}`: end a grant or request.

Every change goes through `GrantService` (the same rules, records, channel and
webhook as the access page); a refusal is 409 `{"error": code, "message"}`, a bad
body 400, an unknown grant 404, a store that cannot be reached 503. Every call needs
`Authorization: Bearer <token>` with the token the gateway keeps in its state folder
(`access-admin.token`, 0600, created at start: `access_token`) — 401 otherwise. The
admin listener has no login, and a browser on the same host could be led to POST to
it from any page (CSRF); a header it cannot set, from a file only the gateway's user
and root can read, keeps changes to those who can administer the host.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from authgate.access.cli import TOKEN_FILE
from authgate.access.model import GrantRefused
from authgate.access.service import Actor, Ask, GrantService
from authgate.config.schema_types import parse_duration
from authgate.ops.state_dir import state_file
from authgate.server.state import DECISION_LOG, GENERATION
from authgate.sessions.store import StoreUnavailable

TOKEN = web.AppKey("access_admin_token", str)
MAIN = web.AppKey("access_admin_main", web.Application)
_STATUS = {"grant-unknown": 404}


def access_token(state_dir: str) -> str:
    """The admin API's token, created (0600) when missing. Several workers may race
    to create it: O_EXCL lets one write it, and the others read that one."""
    path = state_file(state_dir, None, TOKEN_FILE)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return _read_token(path)


def _read_token(path: Path) -> str:
    for _ in range(50):  # a worker that lost the race may read before the winner wrote
        token = path.read_text().strip()
        if token:
            return token
        time.sleep(0.01)
    raise OSError(f"{path}: empty admin token file")


def add_access_routes(admin: web.Application, main: web.Application, state_dir: str) -> None:
    admin[TOKEN] = access_token(state_dir)
    admin[MAIN] = main
    admin.router.add_get("/access/grants", _grants)
    admin.router.add_post("/access/grants", _grant)
    admin.router.add_post("/access/grants/{grant_id}/revoke", _revoke)


def _authorized(request: web.Request) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    expected = request.app[TOKEN]
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body), status=status, content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


def _service(request: web.Request) -> GrantService:
    main = request.app[MAIN]
    generation = main[GENERATION]
    request_id = "admin:" + secrets.token_hex(8)
    return GrantService(
        generation.auth.access, generation.config.entitlements,
        record=main[DECISION_LOG].submit, request_id=request_id,
    )  # fmt: skip


def _shown(grant: Any, now: float) -> dict[str, Any]:
    return {**asdict(grant), "state": grant.state.value, "status": grant.status_at(now).value}


async def _guarded(request: web.Request, body: bool) -> tuple[dict[str, Any], web.Response | None]:
    if not _authorized(request):
        return {}, _json({"error": "unauthorized", "message": "give Authorization: Bearer <access-admin.token>"}, 401)
    if not body:
        return {}, None
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("operator"), str) or not data["operator"]:
        return {}, _json({"error": "bad-request", "message": "a JSON object with operator"}, 400)
    return data, None


async def _grants(request: web.Request) -> web.Response:
    _, refused = await _guarded(request, body=False)
    if refused is not None:
        return refused
    limit = request.query.get("limit", "200")
    if not limit.isdigit() or not 0 < int(limit) <= 1000:
        return _json({"error": "bad-request", "message": "limit: 1 to 1000"}, 400)
    try:
        found = await _service(request).access.store.recent(int(limit))
    except StoreUnavailable as error:
        return _json({"error": "store-unavailable", "message": str(error)}, 503)
    now = time.time()
    return _json({"grants": [_shown(g, now) for g in found]})


async def _grant(request: web.Request) -> web.Response:
    data, refused = await _guarded(request, body=True)
    if refused is not None:
        return refused
    service, actor = _service(request), Actor.operator(data["operator"])
    if isinstance(data.get("approve"), str):
        return await _changed(service.approve(actor, data["approve"], str(data.get("note", ""))), 200)
    try:
        holder = (str(data["provider"]), str(data["subject"]), str(data.get("user") or data["subject"]))
        duration = parse_duration(str(data["duration"])) if data.get("duration") else None
    except (KeyError, ValueError) as error:
        return _json({"error": "bad-request", "message": f"give provider, subject, entitlement: {error}"}, 400)
    ask = Ask(
        str(data.get("entitlement", "")), duration, reason=str(data.get("reason", "")),
        ticket=str(data.get("ticket", "")), route=data.get("route") or None,
    )  # fmt: skip
    return await _changed(service.grant(actor, holder, ask), 201)


async def _revoke(request: web.Request) -> web.Response:
    data, refused = await _guarded(request, body=True)
    if refused is not None:
        return refused
    service = _service(request)
    change = service.revoke(Actor.operator(data["operator"]), request.match_info["grant_id"], str(data.get("note", "")))
    return await _changed(change, 200)


async def _changed(change: Any, status: int) -> web.Response:
    try:
        grant = await change
    except GrantRefused as refused:
        return _json({"error": refused.code, "message": refused.message}, _STATUS.get(refused.code, 409))
    except StoreUnavailable as error:
        return _json({"error": "store-unavailable", "message": str(error)}, 503)
    return _json({"grant": _shown(grant, time.time())}, status)
