"""Long-lived connections follow their session (docs/continuous.md).

Contract: `SessionConnections` is one per process (the app's `LIVE_SESSIONS`; like the
WebSocket registry it outlives reloads). A relayed WebSocket and a streamed response
(SSE, a long poll: any forwarded request, on both front ends) whose request was
decided on a gateway session is registered for as long as it is open
(`follow(session, facts, context, route_id, close, note)`; `server.following` does it
for an exchange), by the session's storage key, its
(provider, subject) and its (provider, `sid`). It is closed — `close(decision)` called
once, with the decision its record ends with — when:

* its session ends: the channel's `session-ended`, `sid-ended`, `subject-ended`
  (logout, back-channel logout, a Shared Signals event, a failed re-verification on
  any replica: the store announces each, `authgate.events`); reason the event's when
  it names a `Reason`, else `session-ended`;
* it changed and the route's policy no longer allows it: `session-changed`,
  `subject-changed` re-read the session from the store and decide again (reason
  `groups-changed`, `identity-changed`, or the session's end);
* a reload changed the route's policy (or removed the route) and it no longer allows
  the user: `attach(generation)`, which the reloader calls on every swap (reason
  `policy-changed`);
* its session passed its absolute end (`session-expired`), or `reverify_every` passed
  for its route and the re-verification at the provider ended it or changed it so that
  the policy says no — checked by one sweep every `SWEEP` seconds (`run()`), so a
  timed close happens within a second.

A decision is taken again with the facts and adaptive context of the connection's
request and the generation current now (`authgate.decide`): the same call the request
path makes, not a second policy. When the channel loses delivery (`on_lost`), every
open connection's session is re-read: what was missed is caught up. Every re-check
is counted (`tally`, kind `connection`): the reason it closed for, or `unchanged`.
A re-evaluation that changes something and leaves the connection open is `note`d to
its owner, so the record it ends with names it (`groups-changed`, `reverify-deferred`).
After an outage (`reverify-deferred`) a session is asked again only `RETRY_AFTER` later.
An idle end is not enforced on an open connection (the connection is the activity);
the absolute end is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Hashable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from authgate.continuous import tally
from authgate.continuous.interval import reverify_due, reverify_interval
from authgate.continuous.revalidate import change
from authgate.continuous.reverify import reverify
from authgate.decide import Context, decide
from authgate.decision import Decision, Outcome, Reason, reason_of
from authgate.events import EventKind, StateEvent
from authgate.facts import RequestFacts
from authgate.sessions.keys import storage_key
from authgate.sessions.model import Session
from authgate.sessions.store import StoreUnavailable

if TYPE_CHECKING:
    from authgate.generation import Generation

log = logging.getLogger(__name__)

SWEEP = 0.5  # seconds between two checks of absolute ends and re-verification intervals
Close = Callable[[Decision], None]
Note = Callable[[Reason], None]
# After a re-verification the provider could not answer (an outage: `reverify-deferred`)
# or the store could not serve, a session's connections wait this long before the
# sweep asks again, instead of asking twice a second.
RETRY_AFTER = 10.0


_ENDED = "continuous:session"
_DECIDED = "continuous:policy"


def _ignore(reason: Reason) -> None:
    del reason


@dataclass(eq=False, slots=True)
class Follower:
    """One open connection, as its session stood when last checked."""

    session: Session
    facts: RequestFacts
    context: Context
    route_id: str
    close: Close
    note: Note = _ignore  # a re-evaluation that left it open (`groups-changed`...)
    closed: bool = False


def ended(route_id: str, reason: Reason) -> Decision:
    """The decision a connection closed because its session ended is recorded with."""
    return Decision(Outcome.DENY, (reason,), route_id=route_id, rule=_ENDED, status=401)


class SessionConnections:
    def __init__(self) -> None:
        self._by_key: dict[str, set[Follower]] = {}
        self._by_subject: dict[tuple[str, str], set[Follower]] = {}
        self._by_sid: dict[tuple[str, str], set[Follower]] = {}
        self._generation: Generation | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._channel: object = None
        self._work: set[asyncio.Task[None]] = set()
        self._verifying: set[str] = set()  # session ids with a re-verification running
        self._retry_at: dict[str, float] = {}  # session id -> no re-verification before

    def __len__(self) -> int:
        return sum(len(followers) for followers in self._by_key.values())

    # --- registration ---------------------------------------------------------------

    def follow(
        self,
        session: Session | None,
        facts: RequestFacts,
        context: Context,
        route_id: str | None,
        close: Close,
        note: Note = _ignore,
    ) -> AbstractContextManager[Follower | None]:
        """Follow a connection for as long as the `with` lasts (not one decided
        without a session: a bearer token or a public path). `note(reason)` hears of
        each re-evaluation that changed something and left it open, so its record
        can say so when it ends. A plain class, not a generator: it runs on every
        forwarded request of a session (about 2 µs)."""
        if session is None or route_id is None:
            return _NOT_FOLLOWED
        return _Tracked(self, Follower(session, facts, context, route_id, close, note))

    def _track(self, follower: Follower, key: str) -> None:
        session = follower.session
        identity = session.identity
        _add(self._by_key, key, follower)
        _add(self._by_subject, (identity.provider, identity.subject), follower)
        if session.provider_sid:
            _add(self._by_sid, (identity.provider, session.provider_sid), follower)

    def _untrack(self, follower: Follower, session: Session, key: str) -> None:
        identity = session.identity
        _discard(self._by_key, key, follower)
        _discard(self._by_subject, (identity.provider, identity.subject), follower)
        if session.provider_sid:
            _discard(self._by_sid, (identity.provider, session.provider_sid), follower)

    # --- the current generation and its channel ----------------------------------------

    def attach(self, generation: Generation) -> None:
        """The generation now current: subscribe to its channel when it is another one,
        and decide every open connection again under its policies."""
        previous, self._generation = self._generation, generation
        channel = generation.auth.events
        if channel is not self._channel:
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe = [channel.subscribe(self._on_event), channel.on_lost(self._on_lost)]
            self._channel = channel
        if previous is not None and previous.snapshot is not generation.snapshot:
            for follower in self._all():
                self._decide_again(follower, follower.session, Reason.POLICY_CHANGED)

    def _on_event(self, event: StateEvent) -> None:
        kind = event.kind
        reason = reason_of(event.reason, Reason.SESSION_ENDED) if event.reason else Reason.SESSION_ENDED
        if kind is EventKind.SESSION_ENDED:
            self._end(self._by_key.get(event.session_key, ()), reason)
        elif kind is EventKind.SID_ENDED:
            self._end(self._by_sid.get((event.provider, event.ref), ()), reason)
        elif kind is EventKind.SUBJECT_ENDED:
            self._end(self._by_subject.get((event.provider, event.subject), ()), reason)
        elif kind is EventKind.SESSION_CHANGED:
            self._reread(self._by_key.get(event.session_key, ()))
        elif kind is EventKind.SUBJECT_CHANGED:
            self._reread(self._by_subject.get((event.provider, event.subject), ()))

    def _on_lost(self) -> None:
        # Events may have been missed while delivery was down: catch up from the store.
        self._reread(self._all())

    def _all(self) -> list[Follower]:
        return [f for followers in self._by_key.values() for f in followers]

    # --- closing ----------------------------------------------------------------------

    def _end(self, followers: Iterable[Follower], reason: Reason) -> None:
        for follower in list(followers):
            self._close(follower, ended(follower.route_id, reason))

    def _close(self, follower: Follower, decision: Decision) -> None:
        if follower.closed:
            return
        follower.closed = True
        tally.count("connection", decision.reasons[-1])
        log.info(
            "closing a connection of %s on route %s: %s",
            follower.session.identity.user, follower.route_id, decision.reason,
        )
        try:
            follower.close(decision)
        except Exception:
            log.exception("closing a followed connection failed")

    def _decide_again(self, follower: Follower, session: Session, why: Reason | None) -> None:
        """Decide the connection again on `session` under the current generation;
        close it when that is not an allow. `why` is what the record adds."""
        generation = self._generation
        if generation is None or follower.closed:
            return
        facts = follower.facts
        lookup = generation.snapshot.routes.match(facts.host, facts.path, facts.method)
        follower.session = session
        if lookup.route is None or lookup.route.id != follower.route_id:
            decision = Decision(Outcome.DENY, (Reason.POLICY_CHANGED,), follower.route_id, _DECIDED, 403)
            self._close(follower, decision)
            return
        policy = generation.server.policies[lookup.route.id]
        decision = decide(facts, lookup, session.identity, None, policy, follower.context)
        if decision.allowed:
            # A reload that still allows it changed nothing about this connection.
            changed = why if why is not Reason.POLICY_CHANGED else None
            tally.count("connection", changed or tally.UNCHANGED)
            if changed is not None:
                follower.note(changed)
            return
        reasons = decision.reasons if why is None else (*decision.reasons, why)
        self._close(follower, dataclasses.replace(decision, reasons=reasons, rule=decision.rule or _DECIDED))

    # --- re-reading, re-verifying ---------------------------------------------------------

    def _reread(self, followers: Iterable[Follower]) -> None:
        for follower in list(followers):
            self._spawn(self._reread_one(follower))

    async def _reread_one(self, follower: Follower) -> None:
        generation = self._generation
        if generation is None or follower.closed:
            return
        try:
            session = await generation.auth.store.get(follower.session.id, time.time())
        except StoreUnavailable:
            log.warning("a followed connection's session could not be re-read (store down)")
            return
        if session is None:
            self._close(follower, ended(follower.route_id, Reason.SESSION_ENDED))
            return
        self._decide_again(follower, session, change(follower.session.identity, session.identity))

    async def run(self) -> None:
        """The sweep: absolute ends and `reverify_every`, every `SWEEP` seconds."""
        while True:
            await asyncio.sleep(SWEEP)
            try:
                self.sweep(time.time())
            except Exception:
                log.exception("the sweep of followed connections failed")

    def sweep(self, now: float) -> None:
        generation = self._generation
        if generation is None:
            return
        self._retry_at = {sid: at for sid, at in self._retry_at.items() if at > now}
        for follower in self._all():
            session = follower.session
            if now >= session.expires_at:
                self._close(follower, ended(follower.route_id, Reason.SESSION_EXPIRED))
                continue
            interval = self._interval(generation, follower)
            waiting = session.id in self._verifying or session.id in self._retry_at
            if reverify_due(session.verified_at, interval, now) and not waiting:
                self._verifying.add(session.id)
                self._spawn(self._reverify(session, interval))

    def _interval(self, generation: Generation, follower: Follower) -> float | None:
        client = generation.auth.oidc.get(follower.session.identity.provider)
        try:
            route = generation.snapshot.routes.by_id(follower.route_id)
        except KeyError:  # removed by a reload: `attach` closes it
            return None
        return None if client is None else reverify_interval(route.config, client.config)

    async def _reverify(self, session: Session, interval: float | None) -> None:
        try:
            await self._reverify_one(session, interval)
        finally:
            self._verifying.discard(session.id)

    async def _reverify_one(self, session: Session, interval: float | None) -> None:
        generation = self._generation
        client = generation.auth.oidc.get(session.identity.provider) if generation else None
        if generation is None or client is None:
            return
        auth = generation.auth
        try:
            result = await reverify(
                session, client, auth.refresher, auth.store, reverify_every=interval
            )
        except StoreUnavailable:
            log.warning("a followed connection's session could not be re-verified (store down)")
            self._retry_at[session.id] = time.time() + RETRY_AFTER
            return
        followers = list(self._by_key.get(storage_key(session.id), ()))
        if result.reason is Reason.REVERIFY_DEFERRED:  # the provider is down: within grace
            self._retry_at[session.id] = time.time() + RETRY_AFTER
            for follower in followers:
                follower.note(Reason.REVERIFY_DEFERRED)
            return
        if result.session is None:
            self._end(followers, result.reason or Reason.REVERIFY_FAILED)
            return
        for follower in followers:
            why = change(follower.session.identity, result.session.identity)
            self._decide_again(follower, result.session, why)

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for task in list(self._work):
            task.cancel()


K = TypeVar("K", bound=Hashable)


class _Tracked:
    """A follower in the registry's indexes for the `with` block."""

    __slots__ = ("_registry", "_follower", "_session", "_key")

    def __init__(self, registry: SessionConnections, follower: Follower) -> None:
        self._registry, self._follower = registry, follower
        self._session = follower.session  # as indexed: a re-read replaces the follower's
        self._key = storage_key(follower.session.id)

    def __enter__(self) -> Follower:
        self._registry._track(self._follower, self._key)
        return self._follower

    def __exit__(self, *exc: object) -> None:
        self._registry._untrack(self._follower, self._session, self._key)


_NOT_FOLLOWED: AbstractContextManager[Follower | None] = nullcontext(None)


def _add(index: dict[K, set[Follower]], key: K, follower: Follower) -> None:
    index.setdefault(key, set()).add(follower)


def _discard(index: dict[K, set[Follower]], key: K, follower: Follower) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(follower)
        if not members:
            del index[key]
