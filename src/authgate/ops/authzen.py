"""The AuthZEN 1.0 endpoints of the admin listener (HTTPS JSON binding, §10).

Contract: `add_authzen_routes(admin)` serves, on the admin listener:

* `POST /access/v1/evaluation` and `POST /access/v1/evaluations` — answered by
  `policy.authzen` with the current generation (the snapshot a reload swapped in),
  200 with a Decision (or `{"evaluations": [...]}`) whatever the decision is;
* `GET /.well-known/authzen-configuration` — the PDP metadata (§9): the identifier
  and the two evaluation endpoints (no search endpoints: none is served).
Without `authzen:` in the config all three are 404 (off by default). Otherwise the
two POSTs need `Authorization: Bearer <one of authzen.tokens>` (compared in constant
time), else 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3); a body that is not
JSON (`Content-Type: application/json`, §10.1) or does not map is 400. Every error
is a JSON object `{"error": ..., "request_id": ...}`. The PEP's `X-Request-ID` is
echoed (§10.1.3), else the gateway's own request id is sent.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from aiohttp import web

from authgate.config.schema_authzen import AuthzenConfig
from authgate.policy.authzen import BadRequest, Pdp, evaluation, evaluations
from authgate.request_id import new_request_id
from authgate.server.state import GENERATION

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
METADATA = "/.well-known/authzen-configuration"


def add_authzen_routes(admin: web.Application, main_key: web.AppKey[web.Application]) -> None:
    async def one(request: web.Request) -> web.Response:
        return await _evaluate(request, request.app[main_key], single=True)

    async def many(request: web.Request) -> web.Response:
        return await _evaluate(request, request.app[main_key], single=False)

    async def metadata(request: web.Request) -> web.Response:
        return _metadata(request, request.app[main_key])

    admin.router.add_post(EVALUATION, one)
    admin.router.add_post(EVALUATIONS, many)
    admin.router.add_get(METADATA, metadata)


def _settings(main: web.Application) -> AuthzenConfig | None:
    generation = main.get(GENERATION)
    return generation.config.authzen if generation is not None else None


async def _evaluate(request: web.Request, main: web.Application, *, single: bool) -> web.Response:
    request_id = request.headers.get("X-Request-ID") or new_request_id()
    settings = _settings(main)
    generation = main.get(GENERATION)
    if settings is None or generation is None:
        return _error(404, "the AuthZEN endpoint is not configured (authzen:)", request_id)
    if not _authorized(request, settings):
        response = _error(401, "a bearer token of authzen.tokens is required", request_id)
        response.headers["WWW-Authenticate"] = 'Bearer realm="authgate-authzen"'
        return response
    if request.content_type != "application/json":
        return _error(400, "Content-Type must be application/json (AuthZEN 1.0 §10.1)", request_id)
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError):
        return _error(400, "the body is not JSON", request_id)
    server = generation.server
    pdp = Pdp(server.snapshot.routes, server.snapshot.config, server.policies, settings, time.time())
    try:
        answer = evaluation(body, pdp) if single else evaluations(body, pdp)
    except BadRequest as error:
        return _error(400, str(error), request_id)
    return web.json_response(answer, headers=_headers(request_id))


def _authorized(request: web.Request, settings: AuthzenConfig) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    given = token.strip().encode()
    # Every token is compared, so the time taken does not say which one was close.
    matches = [hmac.compare_digest(given, known.encode()) for known in settings.tokens]
    return any(matches)


def _metadata(request: web.Request, main: web.Application) -> web.Response:
    settings = _settings(main)
    if settings is None:
        return _error(404, "the AuthZEN endpoint is not configured (authzen:)", new_request_id())
    pdp = str(settings.policy_decision_point or f"{request.scheme}://{request.host}").rstrip("/")
    body: dict[str, Any] = {
        "policy_decision_point": pdp,
        "access_evaluation_endpoint": pdp + EVALUATION,
        "access_evaluations_endpoint": pdp + EVALUATIONS,
    }
    return web.json_response(body, headers={"Cache-Control": "max-age=300"})


def _headers(request_id: str) -> dict[str, str]:
    return {"X-Request-ID": request_id, "Cache-Control": "no-store"}


def _error(status: int, message: str, request_id: str) -> web.Response:
    body = {"error": message, "request_id": request_id}
    return web.json_response(body, status=status, headers=_headers(request_id))
