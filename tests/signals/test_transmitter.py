"""A transmitter's metadata: SSF 1.0 §7 checks, one shared fetch, failures remembered
briefly; and bodies read whole however they arrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from authgate.bounded_read import read_at_most
from authgate.config.schema_auth import ProviderConfig
from authgate.oidc.errors import ProviderError
from authgate.signals import transmitter as module
from authgate.signals.transmitter import Transmitter, parse_transmitter_metadata

TX = "https://tx.example.com"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"issuer": TX, "jwks_uri": TX + "/jwks"}, None),
        ({"issuer": TX + "/", "jwks_uri": TX + "/jwks"}, None),  # one trailing slash
        ({"issuer": "https://evil.example", "jwks_uri": TX + "/jwks"}, "provider-issuer-mismatch"),
        ({"jwks_uri": TX + "/jwks"}, "provider-bad-response"),
        ({"issuer": TX}, "provider-bad-response"),
        ({"issuer": TX, "jwks_uri": "file:///etc/keys"}, "provider-bad-response"),
    ],
)
def test_metadata_checks(document: dict[str, Any], reason: str | None) -> None:
    if reason is None:
        assert parse_transmitter_metadata(document, configured=TX).jwks_uri == TX + "/jwks"
        return
    with pytest.raises(ProviderError) as caught:
        parse_transmitter_metadata(document, configured=TX)
    assert caught.value.reason == reason


class Down:
    """A transmitter whose metadata answers 503 until `up`, counting requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.up = False
        self.server: TestServer | None = None

    async def metadata(self, request: web.Request) -> web.Response:
        self.requests += 1
        await asyncio.sleep(0.05)  # long enough for concurrent callers to meet
        if not self.up:
            return web.Response(status=503)
        issuer = str(request.url.origin())
        return web.json_response({"issuer": issuer, "jwks_uri": issuer + "/jwks"})


@pytest.fixture
async def down() -> AsyncIterator[Down]:
    found = Down()
    app = web.Application()
    app.router.add_get("/.well-known/ssf-configuration", found.metadata)
    found.server = TestServer(app, host="127.0.0.1")
    await found.server.start_server()
    yield found
    await found.server.close()


async def test_callers_share_one_fetch_and_a_failure_is_remembered_briefly(down: Down) -> None:
    assert down.server is not None
    issuer = str(down.server.make_url("")).rstrip("/")
    provider = ProviderConfig.model_validate(
        {"id": "corp", "issuer": "https://idp.example.com", "client_id": "gw", "signals": {"transmitter": issuer}}
    )
    async with aiohttp.ClientSession() as http:
        tx = Transmitter(provider, http)
        results = await asyncio.gather(*(tx.load() for _ in range(20)), return_exceptions=True)
        assert all(isinstance(r, ProviderError) for r in results) and down.requests == 1
        with pytest.raises(ProviderError):
            await tx.load()  # within RETRY_AFTER: answered from memory
        assert down.requests == 1
        down.up = True
        with mock.patch.object(module, "RETRY_AFTER", 0.0):
            assert (await tx.load()).issuer == issuer
        assert down.requests == 2
        await tx.load()
        assert down.requests == 2  # loaded once, kept


async def test_a_body_in_pieces_is_read_whole_and_a_long_one_is_cut() -> None:
    loop = asyncio.get_running_loop()
    stream = aiohttp.StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=loop)
    # As from the network: the first segment now, the rest later.
    stream.feed_data(b"eyJhbGciOi")
    loop.call_later(0.01, stream.feed_data, b"JFUzI1NiJ9")
    loop.call_later(0.02, stream.feed_data, b".e30.sig")
    loop.call_later(0.03, stream.feed_eof)
    assert await read_at_most(stream, 1024) == b"eyJhbGciOiJFUzI1NiJ9.e30.sig"
    long = aiohttp.StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=loop)
    long.feed_data(b"x" * 100)
    long.feed_eof()
    assert len(await read_at_most(long, 10)) == 11  # the caller sees "more than 10"
