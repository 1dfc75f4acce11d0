"""The webhook: Slack-compatible JSON, off the request path, bounded, failures logged."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from authgate.access.webhook import Webhook
from authgate.config.schema_access import WebhookConfig
from tests.testbed.ports import free_port


async def chat(status: int, delay: float = 0.0) -> tuple[TestServer, list[object]]:
    heard: list[object] = []

    async def hook(request: web.Request) -> web.Response:
        heard.append(await request.json())
        await asyncio.sleep(delay)
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, heard


async def test_each_announcement_is_one_text_post() -> None:
    server, heard = await chat(200)
    hook = Webhook(WebhookConfig.model_validate({"url": str(server.make_url("/hook"))}))
    hook.announce("bob requests db-admin")
    hook.announce("alice approved")
    await hook.close()
    await server.close()
    assert heard == [{"text": "bob requests db-admin"}, {"text": "alice approved"}]
    assert (hook.sent, hook.failed) == (2, 0)


async def test_failures_are_logged_and_the_next_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    server, heard = await chat(500)
    hook = Webhook(WebhookConfig.model_validate({"url": str(server.make_url("/hook"))}))
    with caplog.at_level(logging.WARNING, "authgate.access.webhook"):
        hook.announce("one")
        hook.announce("two")
        await hook.close()
    await server.close()
    assert len(heard) == 2 and hook.failed == 2
    assert "not delivered (HTTP 500)" in caplog.text
    dead = Webhook(WebhookConfig.model_validate({"url": f"http://127.0.0.1:{free_port()}/hook", "timeout": "1s"}))
    dead.announce("nobody listens")
    await dead.close()
    assert dead.failed == 1


async def test_a_full_queue_drops_without_waiting() -> None:
    server, _ = await chat(200, delay=0.5)
    hook = Webhook(WebhookConfig.model_validate({"url": str(server.make_url("/hook")), "queue_size": 2}))
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index in range(10):
        hook.announce(f"event {index}")  # never blocks, never raises
    assert loop.time() - started < 0.05
    assert hook.dropped >= 7
    await hook.close()
    await server.close()
