"""The `SessionStore` contract, run against the memory store and a real Redis.

Every test takes `store` (parametrized: memory, redis) and the fake clock it reads.
Session expiry is computed from stored times, so the tests advance the fake clock.
Login-state and one-time-key TTLs are Redis TTLs on the Redis store: those tests
advance the fake clock (memory) *and* sleep a short real ttl (Redis), the same test
for both.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from authgate.identity import Identity
from authgate.sessions.model import Tokens
from authgate.sessions.store import TOUCH_INTERVAL, LockTimeout, SessionStore
from tests.sessions.conftest import FakeClock, NewSession
from tests.sessions.personas import IDLE, MAX_LIFETIME, alice

SHORT_TTL = 0.2


async def test_create_get_delete(store: SessionStore, new_session: NewSession) -> None:
    session = new_session()
    await store.create(session)
    assert await store.get(session.id, session.created_at) == session
    await store.delete(session.id)
    assert await store.get(session.id, session.created_at) is None


async def test_get_keeps_identity_and_tokens_exactly(
    store: SessionStore, new_session: NewSession
) -> None:
    session = new_session(tokens=Tokens("a" * 900, "r", None, 1767229200.25))
    await store.create(session)
    got = await store.get(session.id, session.created_at)
    assert got is not None
    assert got.identity == session.identity and got.identity.session_id == session.id
    assert got.identity.groups == alice().groups  # tuples stay tuples
    assert got.tokens == session.tokens


async def test_unknown_and_malformed_ids_are_none(store: SessionStore, clock: FakeClock) -> None:
    assert await store.get("no-such-session-id-0123456789", clock.now) is None
    assert await store.get("", clock.now) is None


async def test_idle_timeout_ends_and_deletes(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session()
    await store.create(session)
    assert await store.get(session.id, clock.advance(IDLE - 1)) is not None
    assert await store.get(session.id, clock.advance(1)) is None
    # Deleted, not just hidden: even an earlier clock does not find it any more.
    assert await store.get(session.id, session.created_at) is None


async def test_absolute_lifetime_ends_an_active_session(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session()
    await store.create(session)
    while clock.now + IDLE / 2 < session.expires_at:
        clock.advance(IDLE / 2)
        assert await store.get(session.id, clock.now) is not None
        await store.touch(session.id, clock.now)
    assert await store.get(session.id, session.expires_at - 1) is not None
    assert await store.get(session.id, session.expires_at) is None


async def test_touch_slides_the_idle_end(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session()
    await store.create(session)
    await store.touch(session.id, clock.advance(IDLE - 10))
    got = await store.get(session.id, clock.advance(IDLE - 10))
    assert got is not None and got.last_seen == session.created_at + IDLE - 10
    assert got.expires_at == session.expires_at  # the absolute end never moves


async def test_touch_within_the_interval_skips_the_write(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session()
    await store.create(session)
    await store.touch(session.id, clock.advance(TOUCH_INTERVAL / 2))
    got = await store.get(session.id, clock.now)
    assert got is not None and got.last_seen == session.created_at


async def test_touch_after_get_in_one_request(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    """The authenticator's sequence: get, then touch, with the same now."""
    session = new_session()
    await store.create(session)
    now = clock.advance(TOUCH_INTERVAL + 1)
    assert await store.get(session.id, now) is not None
    await store.touch(session.id, now)
    got = await store.get(session.id, now)
    assert got is not None and got.last_seen == now


async def test_touch_never_revives_or_creates(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session()
    await store.create(session)
    await store.touch(session.id, clock.advance(IDLE + 5))  # already idle
    assert await store.get(session.id, clock.now) is None
    await store.touch("never-created-session-id-000000", clock.now)
    assert await store.get("never-created-session-id-000000", clock.now) is None


async def test_replace_tokens(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session()
    await store.create(session)
    fresh = Tokens("at-2", "rt-2", "idt-1", clock.now + 600)
    await store.replace_tokens(session.id, fresh)
    got = await store.get(session.id, clock.now)
    assert got == dataclasses.replace(session, tokens=fresh)


async def test_replace_tokens_never_creates(store: SessionStore, clock: FakeClock) -> None:
    await store.replace_tokens("never-created-session-id-000000", Tokens("a", "r", None, None))
    assert await store.get("never-created-session-id-000000", clock.now) is None


async def test_replace_identity_keeps_the_rest(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session(provider_sid="s1")
    await store.create(session)
    identity = dataclasses.replace(session.identity, groups=("staff",), email="a2@example.com")
    renewed = dataclasses.replace(
        session,
        identity=identity,
        tokens=Tokens("at-2", "rt-2", "idt-2", clock.now + 600),
        verified_at=clock.now + 5,
        last_seen=clock.now - 999,  # not written: only identity, tokens, verified_at
    )
    await store.replace_identity(renewed)
    got = await store.get(session.id, clock.now)
    assert got == dataclasses.replace(renewed, last_seen=session.last_seen)
    assert got is not None and got.identity.groups == ("staff",)


async def test_replace_identity_never_creates(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    session = new_session()
    await store.replace_identity(session)
    assert await store.get(session.id, clock.now) is None


async def test_delete_by_provider_sid_ends_only_that_providers_sid(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    ended = [new_session(provider_sid="s1"), new_session(provider_sid="s1")]
    kept = [
        new_session(alice(provider="shop"), provider_sid="s1"),
        new_session(provider_sid="s2"),
        new_session(provider_sid=None),
    ]
    for session in ended + kept:
        await store.create(session)
    assert await store.delete_by_provider_sid("corp", "s1") == 2
    for session in ended:
        assert await store.get(session.id, clock.now) is None
    for session in kept:
        assert await store.get(session.id, clock.now) is not None
    assert await store.delete_by_provider_sid("corp", "s1") == 0


async def test_delete_by_subject_ends_only_that_providers_subject(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    ended = [new_session(provider_sid="s1"), new_session(provider_sid=None)]
    kept = [new_session(alice(provider="shop")), new_session(alice(subject="someone-else"))]
    for session in ended + kept:
        await store.create(session)
    assert await store.delete_by_subject("corp", alice().subject) == 2
    for session in ended:
        assert await store.get(session.id, clock.now) is None
    for session in kept:
        assert await store.get(session.id, clock.now) is not None


async def test_delete_by_index_counts_live_sessions_only(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    old = new_session()
    await store.create(old)
    clock.advance(IDLE + 1)  # `old` has ended by itself
    await store.create(new_session())
    assert await store.delete_by_subject("corp", alice().subject) == 1


async def test_deleted_session_leaves_no_index_entry(
    store: SessionStore, new_session: NewSession
) -> None:
    session = new_session(provider_sid="s9")
    await store.create(session)
    await store.delete(session.id)
    assert await store.delete_by_provider_sid("corp", "s9") == 0
    assert await store.delete_by_subject("corp", alice().subject) == 0


async def test_delete_by_email_ends_only_that_providers_address(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    ended = [new_session(), new_session(alice(subject="second-account"))]
    other = dataclasses.replace(alice(subject="bob"), email="bob@corp.example.com")
    kept = [new_session(alice(provider="shop")), new_session(other)]
    for session in ended + kept:
        await store.create(session)
    # Compared lowercased: transmitters and providers spell addresses differently.
    assert await store.delete_by_email("corp", "Alice@Corp.Example.com") == 2
    for session in ended:
        assert await store.get(session.id, clock.now) is None
    for session in kept:
        assert await store.get(session.id, clock.now) is not None
    assert await store.delete_by_email("corp", "alice@corp.example.com") == 0


@pytest.mark.parametrize(("index", "value"), [("sub", "248289761001"), ("sid", "s1"), ("email", "ALICE@corp.example.com")])
async def test_change_identities_rewrites_the_indexed_sessions_only(
    store: SessionStore, clock: FakeClock, new_session: NewSession, index: str, value: str
) -> None:
    changed = new_session(provider_sid="s1")
    kept = [new_session(alice(provider="shop"), provider_sid="s1"), new_session(alice(subject="x"), provider_sid="s2")]
    kept[1] = dataclasses.replace(kept[1], identity=dataclasses.replace(kept[1].identity, email="x@corp.example.com"))
    for session in [changed, *kept]:
        await store.create(session)

    def downgrade(identity: Identity) -> Identity:
        return dataclasses.replace(identity, acr="urn:corp:pwd", amr=())

    assert await store.change_identities("corp", index, value, downgrade) == 1  # type: ignore[arg-type]
    got = await store.get(changed.id, clock.now)
    assert got is not None and (got.identity.acr, got.identity.amr) == ("urn:corp:pwd", ())
    assert got.identity.groups == changed.identity.groups and got.tokens == changed.tokens
    for session in kept:
        other = await store.get(session.id, clock.now)
        assert other is not None and other.identity.acr == "urn:corp:mfa"
    # The indexes still find it: the change kept subject and email.
    assert await store.delete_by_subject("corp", alice().subject) == 1


async def test_change_identities_skips_ended_sessions_and_never_creates(
    store: SessionStore, clock: FakeClock, new_session: NewSession
) -> None:
    old = new_session()
    await store.create(old)
    clock.advance(IDLE + 1)
    assert await store.change_identities("corp", "sub", alice().subject, lambda i: i) == 0
    await store.delete(old.id)
    assert await store.change_identities("corp", "sub", alice().subject, lambda i: i) == 0
    assert await store.get(old.id, old.created_at) is None


async def test_login_state_is_taken_once(store: SessionStore) -> None:
    await store.put_login_state("state-1", b"\x00verifier\xff", ttl=60)
    assert await store.take_login_state("state-1") == b"\x00verifier\xff"
    assert await store.take_login_state("state-1") is None
    assert await store.take_login_state("never-put") is None


async def test_login_state_taken_concurrently_is_given_once(store: SessionStore) -> None:
    await store.put_login_state("state-2", b"data", ttl=60)
    results = await asyncio.gather(*(store.take_login_state("state-2") for _ in range(10)))
    assert results.count(b"data") == 1 and results.count(None) == 9


async def test_login_state_expires(store: SessionStore, clock: FakeClock) -> None:
    await store.put_login_state("state-3", b"data", ttl=SHORT_TTL)
    clock.advance(SHORT_TTL + 0.05)
    await asyncio.sleep(SHORT_TTL + 0.05)  # the Redis TTL is real time
    assert await store.take_login_state("state-3") is None


async def test_remember_once(store: SessionStore, clock: FakeClock) -> None:
    assert await store.remember_once("jti-1", ttl=SHORT_TTL) is True
    assert await store.remember_once("jti-1", ttl=SHORT_TTL) is False
    assert await store.remember_once("jti-2", ttl=SHORT_TTL) is True
    clock.advance(SHORT_TTL + 0.05)
    await asyncio.sleep(SHORT_TTL + 0.05)
    assert await store.remember_once("jti-1", ttl=SHORT_TTL) is True


async def test_lock_excludes_a_second_holder(store: SessionStore) -> None:
    events: list[str] = []
    first_in = asyncio.Event()

    async def first() -> None:
        async with store.lock("job", ttl=5):
            events.append("first in")
            first_in.set()
            await asyncio.sleep(0.1)
            events.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with store.lock("job", ttl=5):
            events.append("second in")

    await asyncio.gather(first(), second())
    assert events == ["first in", "first out", "second in"]


async def test_lock_wait_is_bounded(store: SessionStore) -> None:
    async with store.lock("busy", ttl=5):
        with pytest.raises(LockTimeout):
            async with store.lock("busy", ttl=5, wait=0.05):
                pytest.fail("entered a held lock")
        async with store.lock("other-name", ttl=5, wait=0.05):
            pass  # names are independent


async def test_lock_is_released_when_the_body_raises(store: SessionStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.lock("job", ttl=5):
            raise RuntimeError("boom")
    async with store.lock("job", ttl=5, wait=0.05):
        pass


async def test_ping(store: SessionStore) -> None:
    await store.ping()


async def test_lifetimes_are_the_configured_ones(new_session: NewSession) -> None:
    session = new_session()
    assert session.expires_at - session.created_at == MAX_LIFETIME
    assert session.ends_at(IDLE) == session.created_at + IDLE
