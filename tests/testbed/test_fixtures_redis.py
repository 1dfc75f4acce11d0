"""The Redis fixtures start a real server that redis-py's asyncio client can use."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.testbed import redis as redis_mod
from tests.testbed.redis import RedisServer


async def test_ping_set_get(redis_server: RedisServer) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = aioredis.from_url(redis_server.url_for(3))
    try:
        assert await client.ping() is True
        await client.set("testbed:key", "value", ex=30)
        assert await client.get("testbed:key") == b"value"
        info = await client.info("persistence")
        assert info["aof_enabled"] == 0
        assert (await client.config_get("save"))["save"] == ""
    finally:
        await client.delete("testbed:key")
        await client.aclose()


async def test_stop_and_start_on_the_same_port(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    port, url = server.port, server.url
    client = aioredis.from_url(url, retry_on_error=[])
    try:
        await client.set("k", "1")
        await server.astop()
        assert not server.running
        with pytest.raises(RedisConnectionError):
            await client.get("k")
        await server.astart()
        assert server.running and server.port == port and server.url == url
        assert await client.ping() is True
        assert await client.get("k") is None  # no persistence: the data is gone
    finally:
        await client.aclose()


def test_extra_args_and_startup_time(redis_server_factory: Callable[..., RedisServer]) -> None:
    server = redis_server_factory("--maxmemory", "10mb")
    assert server.startup_seconds < 5
    server.restart()
    assert server.running


def test_missing_binary_names_the_apt_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_mod, "find_redis_server", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="sudo apt-get install redis-server"):
        redis_mod._binary_or_fail()


def test_dead_server_shows_its_output(tmp_path: object) -> None:
    from pathlib import Path

    workdir = Path(str(tmp_path))
    binary = redis_mod.find_redis_server()
    assert binary is not None
    server = RedisServer(workdir, binary=binary, extra_args=["--no-such-option", "x"])
    with pytest.raises(pytest.fail.Exception) as info:
        server.start()
    assert "exited with code" in str(info.value)
    assert "no-such-option" in str(info.value)  # redis's own complaint is in the message
