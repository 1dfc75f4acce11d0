"""`SessionCache` on its own: TTL, FIFO bound, timed-out entries swept by `put`,
indexes by subject and sid, and `version` moving on every drop."""

from __future__ import annotations

from authgate.sessions.cache import SessionCache
from tests.sessions.conftest import NewSession
from tests.sessions.personas import alice
from tests.testbed.clock import FakeClock


def test_an_entry_lives_its_ttl_and_no_longer(new_session: NewSession) -> None:
    clock = FakeClock(0.0)
    cache = SessionCache(size=10, ttl=5.0, clock=clock)
    session = new_session()
    cache.put("k", session)
    clock.advance(4.9)
    assert cache.get("k") == session
    clock.advance(0.1)
    assert cache.get("k") is None and len(cache) == 0


def test_the_oldest_goes_first_and_timed_out_entries_are_swept(new_session: NewSession) -> None:
    clock = FakeClock(0.0)
    cache = SessionCache(size=3, ttl=5.0, clock=clock)
    for key in "abc":
        cache.put(key, new_session())
    cache.put("d", new_session())
    assert [cache.get(k) is not None for k in "abcd"] == [False, True, True, True]
    clock.advance(10)  # all timed out: one put leaves only itself
    cache.put("e", new_session())
    assert len(cache) == 1


def test_drops_by_key_subject_and_sid_move_the_version(new_session: NewSession) -> None:
    cache = SessionCache(size=10, ttl=60.0)
    one, two = new_session(provider_sid="sid-1"), new_session(provider_sid="sid-2")
    bob = new_session(alice(subject="bob"), provider_sid="sid-1")
    for key, session in (("one", one), ("two", two), ("bob", bob)):
        cache.put(key, session)
    versions = [cache.version]
    cache.drop_sid("corp", "sid-1")  # one and bob
    versions.append(cache.version)
    assert [cache.get(k) is not None for k in ("one", "two", "bob")] == [False, True, False]
    cache.drop_subject("corp", one.identity.subject)  # two
    versions.append(cache.version)
    assert len(cache) == 0
    cache.drop("nothing-cached")  # still moves: a read in flight must not insert
    cache.clear()
    versions += [cache.version]
    assert versions == sorted(set(versions)) and versions[-1] == versions[0] + 4


def test_size_zero_caches_nothing(new_session: NewSession) -> None:
    cache = SessionCache(size=0, ttl=60.0)
    cache.put("k", new_session())
    assert cache.get("k") is None
