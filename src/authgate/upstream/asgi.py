"""ASGI middleware for upstream apps (Starlette, FastAPI, Django ASGI, ...).

Contract: `app = AssertionMiddleware(app, verifier)`. For `http` and `websocket`
scopes the assertion header is verified and the claims are put in a copy of the scope
under `scope["authgate.assertion"]`; every other scope (`lifespan`) passes through
untouched. Same rules as the aiohttp middleware: missing -> 401 when `required`,
present but invalid or repeated -> always 401.

A refused WebSocket gets the 401 through the ASGI "WebSocket Denial Response"
extension when the server offers it, otherwise a close with code 1008 (policy
violation) before accept, which servers turn into an HTTP 403. No framework import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from authgate.upstream import responses
from authgate.upstream.verifier import AssertionInvalid, AssertionVerifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "authgate.assertion"
_POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1


class AssertionMiddleware:
    def __init__(self, app: ASGIApp, verifier: AssertionVerifier, *, required: bool = True):
        self.app = app
        self.verifier = verifier
        self.required = required
        self._header = verifier.header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        tokens = [v for k, v in scope.get("headers", ()) if k.lower() == self._header]
        if not tokens and not self.required:
            await self.app(scope, receive, send)
            return
        try:
            claims = await self.verifier.verify(_single(tokens))
        except AssertionInvalid as exc:
            await _refuse(scope, receive, send, exc.reason)
            return
        await self.app({**scope, SCOPE_KEY: claims}, receive, send)


def _single(tokens: list[bytes]) -> str:
    if not tokens:
        raise AssertionInvalid("missing")
    if len(tokens) > 1:
        raise AssertionInvalid("multiple")
    return tokens[0].decode("latin-1")


async def _refuse(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    if scope["type"] == "http":
        await _send_401(send, reason, prefix="http")
        return
    message = await receive()  # websocket.connect: answer it, don't race it
    if message.get("type") != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await _send_401(send, reason, prefix="websocket.http")
    else:
        await send({"type": "websocket.close", "code": _POLICY_VIOLATION})


async def _send_401(send: Send, reason: str, *, prefix: str) -> None:
    body = responses.body(reason)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", responses.challenge(reason).encode()),
    ]
    await send({"type": f"{prefix}.response.start", "status": responses.STATUS, "headers": headers})
    await send({"type": f"{prefix}.response.body", "body": body})
