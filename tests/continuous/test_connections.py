"""`SessionConnections`: which events, reloads and sweeps close a followed connection,
and with what decision — on a real generation (memory store, memory channel)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from authgate.config.snapshot import build_snapshot
from authgate.continuous import tally
from authgate.continuous.connections import SessionConnections
from authgate.decide import NO_CONTEXT
from authgate.decision import Decision
from authgate.events import EventKind, StateEvent
from authgate.facts import RequestFacts
from authgate.generation import Generation, build_generation
from authgate.identity import Identity
from authgate.sessions.keys import storage_key
from authgate.sessions.model import Session, Tokens
from tests.testbed.login_gateway import COOKIE_SECRET

NOW = time.time()
FACTS = RequestFacts("r1", "GET", "https", "app.test", "/ws", "/ws", "", "10.0.0.1", "10.0.0.1", False, 0.0, NOW)
Config = dict[str, Any]


def _config(tmp_path: Path, groups: list[str]) -> Config:
    return {
        "server": {"state_dir": str(tmp_path / "state")},
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(tmp_path / "k.pem")},
        "providers": [{"id": "corp", "issuer": "http://127.0.0.1:9", "client_id": "gw"}],
        "routes": [{"id": "app", "match": {"host": "app.test"}, "upstream": "http://127.0.0.1:9",
                    "policy": {"allow": [{"groups": groups}]}}],
    }


@pytest.fixture
async def idp_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


Build = Callable[[list[str], Generation | None], Generation]


@pytest.fixture
def build(tmp_path: Path, idp_http: aiohttp.ClientSession) -> Build:
    def make(groups: list[str], previous: Generation | None = None) -> Generation:
        path = tmp_path / f"authgate-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(_config(tmp_path, groups)))
        return build_generation(build_snapshot(path), previous, idp_http=idp_http)

    return make


def _session(groups: tuple[str, ...] = ("admins",), *, sid: str | None = "op-sid", expires: float = NOW + 3600) -> Session:
    identity = Identity("alice", "corp", "session", groups=groups, claims={"sub": "alice", "groups": list(groups)})
    return Session.begin(identity, Tokens("at"), now=NOW, max_lifetime=expires - NOW, provider_sid=sid)


class Followed:
    """A registry on a started generation, and what it closed."""

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        self.registry = SessionConnections()
        self.registry.attach(generation)
        self.closed: list[Decision] = []

    def follow(self, session: Session) -> Any:
        return self.registry.follow(session, FACTS, NO_CONTEXT, "app", self.closed.append)

    async def publish(self, event: StateEvent) -> None:
        await self.generation.auth.events.publish(event)
        await asyncio.sleep(0.05)  # delivered with call_soon; re-reads are tasks


@pytest.fixture
async def followed(build: Build) -> AsyncIterator[Followed]:
    generation = build(["admins"], None)
    await generation.auth.events.start()
    yield Followed(generation)
    await generation.auth.events.close()


@pytest.mark.parametrize(
    ("event", "closes"),
    [
        pytest.param(lambda s: StateEvent(EventKind.SESSION_ENDED, session_key=storage_key(s.id)), True, id="session-ended"),
        pytest.param(lambda s: StateEvent(EventKind.SESSION_ENDED, session_key=storage_key("other")), False, id="another-session"),
        pytest.param(lambda s: StateEvent(EventKind.SID_ENDED, provider="corp", ref="op-sid"), True, id="sid-ended"),
        pytest.param(lambda s: StateEvent(EventKind.SID_ENDED, provider="shop", ref="op-sid"), False, id="sid-of-another-provider"),
        pytest.param(lambda s: StateEvent(EventKind.SUBJECT_ENDED, provider="corp", subject="alice"), True, id="subject-ended"),
        pytest.param(lambda s: StateEvent(EventKind.SUBJECT_ENDED, provider="corp", subject="bob"), False, id="another-subject"),
        pytest.param(lambda s: StateEvent(EventKind.BANS_CHANGED, ref="x"), False, id="unrelated"),
    ],
)
async def test_an_ended_session_closes_its_connections(
    followed: Followed, event: Callable[[Session], StateEvent], closes: bool
) -> None:
    session = _session()
    with followed.follow(session):
        await followed.publish(event(session))
    assert [d.reason for d in followed.closed] == (["session-ended"] if closes else [])
    if closes:
        assert (followed.closed[0].outcome, followed.closed[0].route_id) == ("deny", "app")


async def test_the_events_reason_is_the_records(followed: Followed) -> None:
    session = _session()
    event = StateEvent(EventKind.SESSION_ENDED, session_key=storage_key(session.id), reason="session-revoked-by-provider")
    with followed.follow(session):
        await followed.publish(event)
    assert [d.reason for d in followed.closed] == ["session-revoked-by-provider"]


async def test_a_changed_session_is_decided_again_on_what_the_store_holds(followed: Followed) -> None:
    session = _session()
    store = followed.generation.auth.store
    await store.create(session)
    changed = StateEvent(EventKind.SESSION_CHANGED, session_key=storage_key(session.id))
    with followed.follow(session):
        await followed.publish(changed)  # nothing changed: still allowed
        assert followed.closed == []
        identity = dataclasses.replace(session.identity, groups=("staff",), claims={"sub": "alice"})
        await store.replace_identity(dataclasses.replace(session, identity=identity))
        await followed.publish(changed)
    assert [d.reason for d in followed.closed] == ["policy-no-match,groups-unauthorized,groups-changed"]


async def test_a_session_gone_from_the_store_closes_on_a_change(followed: Followed) -> None:
    session = _session()  # never stored: the re-read finds nothing
    with followed.follow(session):
        await followed.publish(StateEvent(EventKind.SUBJECT_CHANGED, provider="corp", subject="alice"))
    assert [d.reason for d in followed.closed] == ["session-ended"]


async def test_a_reload_that_takes_access_away_closes(followed: Followed, build: Build) -> None:
    with followed.follow(_session()):
        followed.registry.attach(build(["admins", "staff"], followed.generation))
        assert followed.closed == []  # still allowed under the new policy
        followed.registry.attach(build(["staff"], followed.generation))
    assert [d.reason for d in followed.closed] == ["policy-no-match,groups-unauthorized,policy-changed"]


async def test_the_sweep_closes_at_the_absolute_end(followed: Followed) -> None:
    with followed.follow(_session(expires=NOW + 60)):
        followed.registry.sweep(NOW + 59)
        assert followed.closed == []
        followed.registry.sweep(NOW + 60)
    assert [d.reason for d in followed.closed] == ["session-expired"]


async def test_a_connection_is_closed_once_and_forgotten_when_it_ends(followed: Followed) -> None:
    session = _session()
    ended = StateEvent(EventKind.SESSION_ENDED, session_key=storage_key(session.id))
    with followed.follow(session):
        assert len(followed.registry) == 1
        await followed.publish(ended)
        await followed.publish(ended)
    assert len(followed.closed) == 1
    assert len(followed.registry) == 0
    await followed.publish(ended)
    assert len(followed.closed) == 1


async def test_a_request_without_a_session_is_not_followed(followed: Followed) -> None:
    with followed.registry.follow(None, FACTS, NO_CONTEXT, "app", followed.closed.append) as follower:
        assert follower is None
        assert len(followed.registry) == 0


async def test_a_change_that_still_allows_is_noted_once(followed: Followed) -> None:
    session = _session()
    store = followed.generation.auth.store
    await store.create(session)
    identity = dataclasses.replace(session.identity, email="a2@example.com")
    await store.replace_identity(dataclasses.replace(session, identity=identity))
    notes: list[str] = []
    changed = StateEvent(EventKind.SESSION_CHANGED, session_key=storage_key(session.id))
    with followed.registry.follow(session, FACTS, NO_CONTEXT, "app", followed.closed.append, notes.append):
        await followed.publish(changed)
        await followed.publish(changed)  # the second re-read finds nothing new
    assert (followed.closed, notes) == ([], ["identity-changed"])


async def test_re_evaluations_are_counted(followed: Followed) -> None:
    tally.drain()
    session = _session()
    with followed.follow(session):
        followed.registry.attach(followed.generation)  # the same snapshot: no re-decision
        await followed.publish(StateEvent(EventKind.SESSION_ENDED, session_key=storage_key(session.id)))
    assert tally.drain() == {("connection", "session-ended"): 1}
