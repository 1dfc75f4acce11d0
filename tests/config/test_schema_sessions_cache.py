"""`sessions.cache`: its defaults, its bounds (each error named by file, line and key),
and where a generation has a cache: on a Redis store unless `size: 0`, never on the
memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from authgate.config.errors import ConfigError
from authgate.config.loader import load_config
from authgate.config.snapshot import build_snapshot
from authgate.generation import build_generation, close_resources, resources
from authgate.sessions.cached_store import CachedSessionStore
from tests.testbed.login_gateway import COOKIE_SECRET

ROUTE = {"id": "app", "match": {"host": "app.test"}, "upstream": "http://127.0.0.1:9"}
REDIS = {"backend": "redis", "url": "redis://127.0.0.1:9/0"}  # never connected here


def written(tmp_path: Path, sessions: dict[str, object], store: dict[str, object]) -> Path:
    path = tmp_path / "authgate.yaml"
    config = {"secrets": {"cookie_secret": [COOKIE_SECRET]}, "store": store,
              "sessions": sessions, "routes": [ROUTE]}  # fmt: skip
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_the_defaults(tmp_path: Path) -> None:
    cache = load_config(str(written(tmp_path, {}, REDIS)), {}).sessions.cache
    assert (cache.size, cache.ttl) == (10_000, 5.0)


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        ({"size": -1}, "sessions.cache.size"),
        ({"size": 2_000_000}, "sessions.cache.size"),
        ({"ttl": "0s"}, "sessions.cache.ttl"),
        ({"ttl": "10m"}, "sessions.cache.ttl"),
        ({"ttl": "soon"}, "sessions.cache.ttl"),
        ({"sise": 10}, "sessions.cache.sise: unknown key"),
    ],
)
def test_bad_values_are_named_by_file_line_and_key(
    tmp_path: Path, cache: dict[str, object], problem: str
) -> None:
    path = written(tmp_path, {"cache": cache}, REDIS)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {})
    [found] = [str(p) for p in caught.value.problems]
    assert found.startswith(f"{path}:") and problem in found, found


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize(
    ("store", "sessions", "cached"),
    [
        (REDIS, {}, True),
        (REDIS, {"cache": {"size": 0}}, False),
        ({"backend": "memory"}, {}, False),
    ],
)
async def test_a_cache_on_redis_unless_turned_off_never_on_memory(
    tmp_path: Path, http: aiohttp.ClientSession, store: dict[str, object],
    sessions: dict[str, object], cached: bool,
) -> None:  # fmt: skip
    generation = build_generation(build_snapshot(written(tmp_path, sessions, store)), None,
                                  idp_http=http)  # fmt: skip
    try:
        wrapper = generation.auth.store
        assert isinstance(wrapper, CachedSessionStore)  # publishes either way
        assert (wrapper.cache is not None) is cached
    finally:
        await close_resources(resources(generation.auth))
