"""aiohttp middleware for upstream apps: verify the gateway's assertion per request.

Contract: `app.middlewares.append(aiohttp_middleware(verifier))`. A request with one
valid assertion reaches the handler with its claims in `request[ASSERTION_CLAIMS]`.
A missing assertion is answered 401 when `required`, otherwise passed through without
claims. A present but invalid assertion — or more than one — is always 401: a bad
credential is a failure, never a fall-through to anonymous (STYLE lesson 3), and two
values mean something between the gateway and the app added one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from authgate.upstream import responses
from authgate.upstream.verifier import AssertionInvalid, AssertionVerifier

ASSERTION_CLAIMS: web.RequestKey[dict[str, Any]] = web.RequestKey("authgate_assertion", dict)


def aiohttp_middleware(verifier: AssertionVerifier, *, required: bool = True) -> Middleware:
    @web.middleware
    async def verify_assertion(request: web.Request, handler: Handler) -> web.StreamResponse:
        tokens = request.headers.getall(verifier.header, [])
        if not tokens and not required:
            return await handler(request)
        try:
            request[ASSERTION_CLAIMS] = await verifier.verify(_single(tokens))
        except AssertionInvalid as exc:
            return _unauthorized(exc.reason)
        return await handler(request)

    return verify_assertion


def _single(tokens: list[str]) -> str:
    if not tokens:
        raise AssertionInvalid("missing")
    if len(tokens) > 1:
        raise AssertionInvalid("multiple")
    return tokens[0]


def _unauthorized(reason: str) -> web.Response:
    return web.Response(
        status=responses.STATUS,
        body=responses.body(reason),
        content_type="application/json",
        headers={"WWW-Authenticate": responses.challenge(reason)},
    )
