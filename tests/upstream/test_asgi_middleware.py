"""The ASGI middleware, driven by hand-made scope/receive/send (no framework)."""

from __future__ import annotations

import json
from typing import Any

from authgate.mutate.assertion import AssertionKeys
from authgate.upstream import SCOPE_KEY, AssertionMiddleware, AssertionVerifier
from authgate.upstream.asgi import Message, Receive, Scope, Send
from tests.upstream.conftest import AUDIENCE


class RecordingApp:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


class Channel:
    def __init__(self, *incoming: Message) -> None:
        self.incoming = list(incoming)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return self.incoming.pop(0)

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def _scope(kind: str, token: str | None = None, **extra: Any) -> Scope:
    headers = [(b"host", b"app.test")]
    if token is not None:
        headers.append((b"x-authgate-assertion", token.encode()))
    return {"type": kind, "path": "/", "headers": headers, **extra}


def _middleware(
    keys: AssertionKeys, *, required: bool = True
) -> tuple[AssertionMiddleware, RecordingApp]:
    app = RecordingApp()
    verifier = AssertionVerifier(jwks=keys.jwks(), audience=AUDIENCE)
    return AssertionMiddleware(app, verifier, required=required), app


async def test_http_with_a_valid_assertion(keys: AssertionKeys, good_token: str) -> None:
    middleware, app = _middleware(keys)
    scope = _scope("http", good_token)
    channel = Channel({"type": "http.request", "body": b""})
    await middleware(scope, channel.receive, channel.send)
    assert app.scopes[0][SCOPE_KEY]["sub"] == "alice-sub"
    assert SCOPE_KEY not in scope  # the caller's scope is not changed
    assert channel.sent[0]["status"] == 200


async def test_http_without_an_assertion_gets_401(keys: AssertionKeys) -> None:
    middleware, app = _middleware(keys)
    channel = Channel({"type": "http.request", "body": b""})
    await middleware(_scope("http"), channel.receive, channel.send)
    assert app.scopes == []
    start, body = channel.sent
    assert start["type"] == "http.response.start" and start["status"] == 401
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"www-authenticate"].startswith(b"AuthgateAssertion ")
    assert json.loads(body["body"]) == {"error": "invalid_assertion", "reason": "missing"}
    assert int(headers[b"content-length"]) == len(body["body"])


async def test_http_with_two_assertions_gets_401(keys: AssertionKeys, good_token: str) -> None:
    middleware, app = _middleware(keys)
    scope = _scope("http", good_token)
    scope["headers"].append((b"x-authgate-assertion", good_token.encode()))
    channel = Channel()
    await middleware(scope, channel.receive, channel.send)
    assert app.scopes == [] and channel.sent[0]["status"] == 401


async def test_optional_passes_anonymous_but_not_bad(keys: AssertionKeys) -> None:
    middleware, app = _middleware(keys, required=False)
    await middleware(_scope("http"), Channel().receive, Channel().send)
    assert len(app.scopes) == 1 and SCOPE_KEY not in app.scopes[0]
    channel = Channel()
    await middleware(_scope("http", "garbage"), channel.receive, channel.send)
    assert len(app.scopes) == 1 and channel.sent[0]["status"] == 401


async def test_lifespan_passes_through(keys: AssertionKeys) -> None:
    middleware, app = _middleware(keys)
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await middleware(scope, Channel().receive, Channel().send)
    assert app.scopes == [scope]


async def test_websocket_with_a_valid_assertion(keys: AssertionKeys, good_token: str) -> None:
    middleware, app = _middleware(keys)
    await middleware(_scope("websocket", good_token), Channel().receive, Channel().send)
    assert app.scopes[0][SCOPE_KEY]["sub"] == "alice-sub"


async def test_websocket_refused_with_close_1008(keys: AssertionKeys) -> None:
    middleware, app = _middleware(keys)
    channel = Channel({"type": "websocket.connect"})
    await middleware(_scope("websocket", "garbage"), channel.receive, channel.send)
    assert app.scopes == []
    assert channel.sent == [{"type": "websocket.close", "code": 1008}]


async def test_websocket_refused_with_401_when_the_server_can(keys: AssertionKeys) -> None:
    middleware, app = _middleware(keys)
    scope = _scope("websocket", extensions={"websocket.http.response": {}})
    channel = Channel({"type": "websocket.connect"})
    await middleware(scope, channel.receive, channel.send)
    assert app.scopes == []
    start, body = channel.sent
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 401)
    assert body["type"] == "websocket.http.response.body"
    assert json.loads(body["body"])["reason"] == "missing"


async def test_websocket_client_gone_before_connect(keys: AssertionKeys) -> None:
    middleware, app = _middleware(keys)
    channel = Channel({"type": "websocket.disconnect", "code": 1006})
    await middleware(_scope("websocket"), channel.receive, channel.send)
    assert app.scopes == [] and channel.sent == []
