"""Three `authgate serve` processes on one store — a real Redis or the 3-master cluster.

`Replicas` holds the three gateways (one config, each its own port), a store of the
test's own on the same Redis (the real `RedisSessionStore`, the gateways' cookie
secret) to mint sessions without a browser login, and helpers that speak to the
gateways the way a browser and an API client do. The session cache's TTL is set to
300 s, so a change seen within a second was seen through the state-event channel,
not by an entry timing out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from authgate.config.schema_auth import RedisClusterConfig, SessionsConfig, StoreConfig
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import SessionKeys
from authgate.sessions.model import Session, Tokens
from authgate.sessions.store import SessionStore, build_store
from tests.sessions.personas import alice
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET, login_config
from tests.testbed.oidc import OIDCProvider
from tests.testbed.redis import RedisServer
from tests.testbed.redis_cluster import RedisClusterBed

API = {"Accept": "application/json"}
KEYS = SessionKeys.from_secrets([COOKIE_SECRET])
CACHE = {"size": 10_000, "ttl": "300s"}


def redis_store_config(target: RedisServer | RedisClusterBed) -> dict[str, Any]:
    prefix = f"rep{uuid.uuid4().hex[:8]}:"
    if isinstance(target, RedisServer):
        return {"backend": "redis", "url": target.url, "key_prefix": prefix}
    return {"backend": "redis", "cluster": {"nodes": target.nodes}, "key_prefix": prefix}


def own_store(store: dict[str, Any]) -> SessionStore:
    """The test's own handle on the gateways' store (what a fourth replica would write)."""
    cluster = store.get("cluster")
    config = StoreConfig(
        backend="redis",
        url=store.get("url"),
        cluster=RedisClusterConfig(**cluster) if cluster else None,
        key_prefix=store["key_prefix"],
    )
    return build_store(config, SessionsConfig(), cipher=TokenCipher(KEYS))


@dataclass
class Replicas:
    gateways: list[Gateway]
    store: SessionStore
    http: aiohttp.ClientSession

    async def mint(self) -> Session:
        """A live session in the shared store, as a login at any replica leaves it."""
        session = Session.begin(alice(), Tokens(), now=time.time(), max_lifetime=3600)
        await self.store.create(session)
        return session

    async def status(self, gateway: Gateway, session: Session | str) -> int:
        return (await self.answer(gateway, session))[0]

    async def answer(self, gateway: Gateway, session: Session | str) -> tuple[int, dict[str, Any]]:
        """Status and echoed request (on 200) of `/api` with this session's cookie
        (a `Session`, or the cookie value a browser login left)."""
        cookie = KEYS.sign_session_id(session.id) if isinstance(session, Session) else session
        async with self.http.get(
            f"{gateway.url}/api", headers=API, cookies={"authgate": cookie}
        ) as r:
            echo = await r.json() if r.status == 200 else {}
            return r.status, echo

    async def log_out(self, gateway: Gateway, session: Session) -> None:
        cookies = {"authgate": KEYS.sign_session_id(session.id)}
        form = {"csrf_token": KEYS.csrf_token(session.id)}
        async with self.http.post(
            f"{gateway.url}/.authgate/logout", data=form, cookies=cookies, allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()


async def start_replicas(
    gateway_factory: Callable[..., Gateway],
    provider: OIDCProvider,
    upstream: TestServer,
    tmp_path: Path,
    store: dict[str, Any],
    *,
    client: dict[str, Any] | None = None,
    ports: list[int] | None = None,
    route: dict[str, Any] | None = None,
    sessions: list[dict[str, Any]] | None = None,
) -> AsyncIterator[Replicas]:
    """Three gateways; `ports` and `sessions` (each one's `sessions:` keys) per gateway."""
    base = login_config(
        provider, str(upstream.make_url("/")).rstrip("/"), tmp_path / "keys.pem",
        store=store, client=client, route=route,
    )  # fmt: skip

    def config(index: int) -> dict[str, Any]:
        own = {**base, "sessions": {"cache": CACHE, **(sessions or [{}] * 3)[index]}}
        if ports:
            own["server"] = {"listen": f"127.0.0.1:{ports[index]}"}
        return own

    gateways = [gateway_factory(config(index)) for index in range(3)]
    backend = own_store(store)
    # A fresh cookie jar per request: the replicas must not learn from one another.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        yield Replicas(gateways, backend, http)
    await backend.close()
