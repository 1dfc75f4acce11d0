"""What only the Redis store has: key layout, TTL backstop, outage, record size.

The shared contract lives in `test_store_contract.py`; these tests look inside Redis
with a second, plain client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from authgate.config.schema_auth import SessionsConfig, StoreConfig
from authgate.sessions.cipher import TokenCipher
from authgate.sessions.keys import storage_key
from authgate.sessions.memory import MemorySessionStore
from authgate.sessions.model import Session, Tokens
from authgate.sessions.redis_store import RedisSessionStore
from authgate.sessions.store import StoreUnavailable, build_store
from tests.sessions.conftest import FakeClock, NewSession, redis_store
from tests.sessions.personas import IDLE, MAX_LIFETIME, alice, jwt_shaped
from tests.testbed.redis import RedisServer


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def rstore(
    redis_server: RedisServer, cipher: TokenCipher, clock: FakeClock, prefix: str
) -> AsyncIterator[RedisSessionStore]:
    store = redis_store(redis_server, cipher, clock, prefix)
    yield store
    await store.close()


async def _keys(raw: aioredis.Redis, prefix: str) -> list[str]:
    return sorted([k.decode() async for k in raw.scan_iter(match=f"{prefix}*")])


async def test_key_layout_and_ttls(
    rstore: RedisSessionStore, raw: aioredis.Redis, prefix: str, new_session: NewSession
) -> None:
    session = new_session(provider_sid="s1")
    await rstore.create(session)
    skey = storage_key(session.id)
    assert await _keys(raw, prefix) == [
        f"{prefix}email:corp:alice@corp.example.com",
        f"{prefix}s:{{{skey}}}",
        f"{prefix}sid:corp:s1",
        f"{prefix}sub:corp:{alice().subject}",
    ]
    session_ttl = await raw.pttl(f"{prefix}s:{{{skey}}}")
    assert IDLE * 1000 - 2000 < session_ttl <= IDLE * 1000  # min(idle end, absolute end)
    for index in ("sid:corp:s1", f"sub:corp:{alice().subject}", "email:corp:alice@corp.example.com"):
        assert await raw.pttl(prefix + index) >= MAX_LIFETIME * 1000 - 2000


async def test_touch_pushes_the_ttl(
    rstore: RedisSessionStore, raw: aioredis.Redis, prefix: str, clock: FakeClock,
    new_session: NewSession,
) -> None:  # fmt: skip
    session = new_session()
    await rstore.create(session)
    key = f"{prefix}s:{{{storage_key(session.id)}}}"
    await raw.pexpire(key, 5000)
    await rstore.touch(session.id, clock.advance(120))
    assert await raw.pttl(key) > IDLE * 1000 - 2000
    # Near its absolute end, the TTL stops there, not at the idle end.
    short = Session.begin(alice(), Tokens(), now=clock.now, max_lifetime=IDLE / 2)
    await rstore.create(short)
    await rstore.touch(short.id, clock.advance(120))
    ttl = await raw.pttl(f"{prefix}s:{{{storage_key(short.id)}}}")
    assert (IDLE / 2 - 120) * 1000 - 2000 < ttl <= (IDLE / 2 - 120) * 1000


async def test_nothing_in_redis_can_be_replayed(
    rstore: RedisSessionStore, raw: aioredis.Redis, prefix: str, new_session: NewSession
) -> None:
    session = new_session(tokens=Tokens("clear-access", "clear-refresh", "clear-id", None))
    await rstore.create(session)
    dump = ""
    for key in await _keys(raw, prefix):
        dump += key
        if await raw.type(key) == b"hash":
            dump += repr(await raw.hgetall(key))
        else:
            dump += repr(await raw.smembers(key))
    assert session.id not in dump and "clear-" not in dump
    assert storage_key(session.id) in dump  # the dump was read, under the stored name


async def test_tokens_copied_to_another_session_do_not_open(
    rstore: RedisSessionStore, raw: aioredis.Redis, prefix: str, clock: FakeClock,
    new_session: NewSession,
) -> None:  # fmt: skip
    a, b = new_session(), new_session()
    await rstore.create(a)
    await rstore.create(b)
    blob = await raw.hget(f"{prefix}s:{{{storage_key(a.id)}}}", "tokens")
    assert blob is not None
    await raw.hset(f"{prefix}s:{{{storage_key(b.id)}}}", "tokens", blob)
    assert await rstore.get(b.id, clock.now) is None
    assert await rstore.get(a.id, clock.now) is not None


async def test_corrupt_record_is_dropped(
    rstore: RedisSessionStore, raw: aioredis.Redis, prefix: str, clock: FakeClock,
    new_session: NewSession,
) -> None:  # fmt: skip
    session = new_session()
    await rstore.create(session)
    key = f"{prefix}s:{{{storage_key(session.id)}}}"
    await raw.hset(key, "identity", "{broken")
    assert await rstore.get(session.id, clock.now) is None
    assert await raw.exists(key) == 0


async def test_two_clients_see_one_store(
    redis_server: RedisServer, cipher: TokenCipher, clock: FakeClock, prefix: str,
    new_session: NewSession,
) -> None:  # fmt: skip
    one = redis_store(redis_server, cipher, clock, prefix)
    two = redis_store(redis_server, cipher, clock, prefix)
    try:
        session = new_session()
        await one.create(session)
        assert await two.get(session.id, clock.now) == session
        await one.put_login_state("st", b"x", ttl=60)
        assert await two.take_login_state("st") == b"x"
        assert await one.take_login_state("st") is None
    finally:
        await one.close()
        await two.close()


async def test_outage_raises_store_unavailable_and_recovers(
    redis_server_factory: Callable[..., RedisServer], cipher: TokenCipher, clock: FakeClock,
    new_session: NewSession,
) -> None:  # fmt: skip
    server = redis_server_factory()
    store = redis_store(server, cipher, clock, "outage:")
    try:
        session = new_session()
        await store.create(session)
        await server.astop()
        for call in (
            store.get(session.id, clock.now),
            store.ping(),
            store.create(new_session()),
            store.take_login_state("x"),
            store.delete_by_subject("corp", "x"),
        ):
            with pytest.raises(StoreUnavailable) as info:
                await call
            assert type(info.value) is StoreUnavailable  # no redis type leaks out
        await server.astart()
        await store.ping()  # the same store object, not rebuilt
        assert await store.get(session.id, clock.now) is None  # no persistence: gone
        again = new_session()
        await store.create(again)
        assert await store.get(again.id, clock.now) == again
        # Scripts are reloaded into the new server's empty script cache (NOSCRIPT).
        await store.touch(again.id, clock.advance(120))
        touched = await store.get(again.id, clock.now)
        assert touched is not None and touched.last_seen == clock.now
    finally:
        await store.close()


async def test_lock_release_failure_does_not_mask_the_body(
    redis_server_factory: Callable[..., RedisServer], cipher: TokenCipher, clock: FakeClock,
) -> None:  # fmt: skip
    server = redis_server_factory()
    store = redis_store(server, cipher, clock, "lock:")
    try:
        async with store.lock("job", ttl=5):
            await server.astop()  # the release cannot reach Redis: logged, not raised
        await server.astart()
    finally:
        await store.close()


async def test_decoding_client_is_refused(redis_server: RedisServer, cipher: TokenCipher) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisSessionStore(
                client, cipher=cipher, prefix="x:", idle_timeout=IDLE, max_lifetime=MAX_LIFETIME
            )
    finally:
        await client.aclose()


async def test_build_store(redis_server: RedisServer, cipher: TokenCipher) -> None:
    sessions = SessionsConfig()
    memory = build_store(StoreConfig(), sessions)
    assert isinstance(memory, MemorySessionStore)
    config = StoreConfig(backend="redis", url=redis_server.url, key_prefix="built:")
    with pytest.raises(ValueError, match="secrets"):
        build_store(config, sessions)
    built = build_store(config, sessions, cipher=cipher)
    try:
        assert isinstance(built, RedisSessionStore)
        await built.ping()
    finally:
        await built.close()


@pytest.mark.parametrize(
    ("label", "tokens", "limit"),
    [
        ("no tokens", Tokens(None, None, None, None), 1024),
        ("opaque tokens", Tokens("x" * 43, "y" * 43, None, 1767229200.0), 1280),
        ("JWTs, 800 B each", Tokens(jwt_shaped(), jwt_shaped(), jwt_shaped(), 1767229200.0), 4864),
    ],
)
async def test_memory_usage_of_one_session(
    rstore: RedisSessionStore, raw: aioredis.Redis, prefix: str, new_session: NewSession,
    label: str, tokens: Tokens, limit: int,
) -> None:  # fmt: skip
    session = new_session(tokens=tokens)
    await rstore.create(session)
    key = f"{prefix}s:{{{storage_key(session.id)}}}"
    usage = await raw.memory_usage(key, samples=0)
    encoding = await raw.object("encoding", key)
    print(f"\nMEMORY USAGE, session with {label}: {usage} bytes ({encoding!r})")
    assert usage is not None and usage <= limit
