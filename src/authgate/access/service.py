"""The only code that changes a grant: request, approve, deny, revoke, break-glass.

Contract: `GrantService(access, entitlements, record=...)` applies the rules of
docs/privileged-access.md for one actor — a signed-in user (`Actor.of(identity)`)
or an operator (`Actor.operator(name)`, the CLI through the admin API) — and for
each change, in this order: writes the store (compare-and-set: of two racing
decisions one wins, the other is refused `grant-already-decided`), hands one
decision record per grant event to `record` (requested, approved, activated,
denied, revoked, expired, break-glass), tells this process's cache and then every
replica (GRANT_CHANGED on the channel: `authgate.access.events`), and queues a
webhook announcement. A refusal raises `GrantRefused(code, message)` and changes
nothing; a login that falls short raises `StepUpRequired(demand)` (the page sends
the browser to a fresh sign-in, `prompt=login`, and back).

Rules, each refused with its own code:
- the entitlement must be declared (`entitlement-unknown`);
- who may ask: `requesters` (default any signed-in user) (`requester-not-allowed`);
  a reason when `require_reason`, a ticket when `require_ticket` (`reason-required`,
  `ticket-required`); a duration above zero and at most `max_duration`
  (`duration-too-long`); the requester's login meets the entitlement's `step_up`;
  one open request or grant per entitlement and scope (`grant-open-exists`);
- who may decide: `approvers` (`approver-not-allowed`); never one's own request
  (`self-approval`) — the requester may withdraw it (deny) or give a grant up (revoke);
  an operator may do anything but approve without a config (an operator's grant is
  recorded as approved by `operator:<name>`);
- break-glass: `break_glass` members only (`break-glass-not-allowed`), at most its
  `max_duration`, and a login at most `max_age` old meeting its acr/amr — else a
  step-up; the approvers are told at once (webhook, and the access page lists it).
An approval starts the grant at once, its end at most `max_duration` (the config of
the moment, not of the request) after. Texts given by users are cut at
`TEXT_MAX` characters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from authgate.access.events import announce
from authgate.access.model import Grant, GrantRefused, GrantState, moment, new_grant_id, span
from authgate.access.records import event_record
from authgate.access.runtime import AccessRuntime
from authgate.config.schema_access import EntitlementConfig, LoginDemand, Members
from authgate.decision import Reason
from authgate.decisionlog.record import DecisionRecord
from authgate.identity import Identity
from authgate.sessions.store import StoreUnavailable

log = logging.getLogger(__name__)
TEXT_MAX = 500
REQUESTED = frozenset({GrantState.REQUESTED})
DECIDABLE = frozenset({GrantState.REQUESTED, GrantState.ACTIVE})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in user, or an operator (`provider` None)."""

    name: str
    provider: str | None = None
    subject: str | None = None
    groups: tuple[str, ...] = ()
    identity: Identity | None = None

    @classmethod
    def of(cls, identity: Identity) -> Actor:
        return cls(identity.user, identity.provider, identity.subject, identity.groups, identity)

    @classmethod
    def operator(cls, name: str) -> Actor:
        return cls(f"operator:{name}")

    @property
    def is_operator(self) -> bool:
        return self.provider is None

    def holds(self, grant: Grant) -> bool:
        return (self.provider, self.subject) == grant.holder

    def member(self, members: Members | None) -> bool:
        if members is None:
            return False
        return bool(set(members.groups or ()) & set(self.groups)) or self.name in (members.users or ())


class StepUpRequired(Exception):
    """The actor's login falls short of `demand`: a fresh sign-in is needed."""

    def __init__(self, demand: LoginDemand) -> None:
        super().__init__("a fresh, stronger sign-in is required")
        self.demand = demand


@dataclass(frozen=True, slots=True)
class Ask:
    """What a request (or a break-glass) asks for."""

    entitlement: str
    duration: float | None = None  # None: the entitlement's default
    reason: str = ""
    ticket: str = ""
    route: str | None = None


Record = Callable[[DecisionRecord], None]


class GrantService:
    def __init__(
        self,
        access: AccessRuntime,
        entitlements: Mapping[str, EntitlementConfig],
        *,
        record: Record,
        request_id: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.access = access
        self.entitlements = entitlements
        self._record = record
        self._request_id = request_id
        self._clock = clock

    # -- asking ---------------------------------------------------------------

    async def request(self, actor: Actor, ask: Ask) -> Grant:
        config = self._entitlement(ask.entitlement)
        if config.requesters is not None and not actor.member(config.requesters):
            raise GrantRefused("requester-not-allowed", f"you may not request {ask.entitlement}")
        duration = self._duration(ask, config, config.max_duration)
        self._explained(ask, config)
        if config.step_up is not None:
            _demand_met(actor, config.step_up, self._clock())
        await self._no_open_grant(actor, ask)
        grant = self._new(actor, ask, duration, GrantState.REQUESTED)
        await self.access.store.create(grant)
        await self._changed(grant, [Reason.GRANT_REQUESTED], actor)
        self._announce(f"{actor.name} requests {_what(grant)}: {grant.reason or 'no reason given'} ({grant.id})")
        return grant

    async def break_glass(self, actor: Actor, ask: Ask) -> Grant:
        config = self._entitlement(ask.entitlement)
        glass = config.break_glass
        if glass is None or not actor.member(glass):
            raise GrantRefused("break-glass-not-allowed", f"you may not break glass for {ask.entitlement}")
        duration = self._duration(ask, config, glass.max_duration or config.max_duration)
        self._explained(ask, config)
        _demand_met(actor, LoginDemand(acr=glass.acr, amr=glass.amr, max_age=glass.max_age), self._clock())
        await self._no_open_grant(actor, ask)
        now = self._clock()
        grant = self._new(actor, ask, duration, GrantState.REQUESTED)
        grant = grant.activated(now, actor.name, "break-glass")
        grant = replace(grant, break_glass=True)
        await self.access.store.create(grant)
        await self._changed(grant, [Reason.GRANT_BREAK_GLASS, Reason.GRANT_ACTIVATED], actor)
        self._announce(
            f":rotating_light: BREAK-GLASS: {actor.name} granted themselves {_what(grant)} "
            f"until {moment(grant.expires_at)}: {grant.reason or 'no reason given'} ({grant.id})"
        )
        return grant

    async def grant(self, actor: Actor, holder: tuple[str, str, str], ask: Ask) -> Grant:
        """An operator's grant for `holder` (provider, subject, user): active at once."""
        config = self._entitlement(ask.entitlement)
        if not actor.is_operator:
            raise GrantRefused("approver-not-allowed", "only an operator grants directly")
        duration = self._duration(ask, config, config.max_duration)
        provider, subject, user = holder
        base = Actor(user, provider, subject)
        await self._no_open_grant(base, ask)
        grant = self._new(base, ask, duration, GrantState.REQUESTED)
        grant = replace(grant, requested_by=actor.name)
        grant = grant.activated(self._clock(), actor.name)
        await self.access.store.create(grant)
        await self._changed(grant, [Reason.GRANT_APPROVED, Reason.GRANT_ACTIVATED], actor)
        self._announce(f"{actor.name} granted {user} {_what(grant)}: {grant.reason} ({grant.id})")
        return grant

    # -- deciding ---------------------------------------------------------------

    async def approve(self, actor: Actor, grant_id: str, note: str = "") -> Grant:
        grant = await self._open(grant_id, REQUESTED)
        config = self._entitlement(grant.entitlement)
        if actor.holds(grant):
            # Four eyes: a request is never approved by the one who made it.
            raise GrantRefused("self-approval", "you cannot approve your own request")
        if not actor.is_operator and not actor.member(config.approvers):
            raise GrantRefused("approver-not-allowed", f"you may not approve {grant.entitlement}")
        duration = min(grant.duration, config.max_duration)  # today's cap, not the request's
        active = replace(grant, duration=duration).activated(self._clock(), actor.name, _cut(note))
        await self._replace(active, REQUESTED)
        await self._changed(active, [Reason.GRANT_APPROVED, Reason.GRANT_ACTIVATED], actor)
        self._announce(f"{actor.name} approved {active.user}'s {_what(active)} until {moment(active.expires_at)} ({active.id})")
        return active

    async def deny(self, actor: Actor, grant_id: str, note: str = "") -> Grant:
        grant = await self._open(grant_id, REQUESTED)
        config = self.entitlements.get(grant.entitlement)
        withdrawn = actor.holds(grant)
        if not (withdrawn or actor.is_operator or (config is not None and actor.member(config.approvers))):
            raise GrantRefused("approver-not-allowed", f"you may not deny {grant.entitlement}")
        denied = grant.ended(GrantState.DENIED, self._clock(), actor.name, _cut(note) or ("withdrawn" if withdrawn else ""))
        await self._replace(denied, REQUESTED)
        await self._changed(denied, [Reason.GRANT_DENIED], actor)
        self._announce(f"{actor.name} denied {denied.user}'s request for {_what(denied)} ({denied.id})")
        return denied

    async def revoke(self, actor: Actor, grant_id: str, note: str = "") -> Grant:
        grant = await self._open(grant_id, DECIDABLE)
        config = self.entitlements.get(grant.entitlement)
        allowed = actor.holds(grant) or actor.is_operator or (config is not None and actor.member(config.approvers))
        if not allowed:
            raise GrantRefused("approver-not-allowed", f"you may not revoke {grant.entitlement}")
        revoked = grant.ended(GrantState.REVOKED, self._clock(), actor.name, _cut(note))
        await self._replace(revoked, frozenset({grant.state}))
        await self._changed(revoked, [Reason.GRANT_REVOKED], actor)
        self._announce(f"{actor.name} revoked {revoked.user}'s {_what(revoked)} ({revoked.id})")
        return revoked

    async def expire_due(self) -> list[Grant]:
        """End what is due (the sweeper, every process): only the process whose
        compare-and-set wins records the expiry, so it is logged once."""
        now, ended = self._clock(), []
        for grant in await self.access.store.due(now):
            expired = grant.ended(GrantState.EXPIRED, now, None)
            if await self.access.store.replace(expired, frozenset({grant.state})):
                await self._changed(expired, [Reason.GRANT_EXPIRED], Actor("gateway"))
                ended.append(expired)
        return ended

    # -- reading ---------------------------------------------------------------

    def may_approve(self, actor: Actor, grant: Grant) -> bool:
        config = self.entitlements.get(grant.entitlement)
        return config is not None and not actor.holds(grant) and actor.member(config.approvers)

    def approves_any(self, actor: Actor) -> bool:
        return any(actor.member(c.approvers) for c in self.entitlements.values())

    # -- the parts ---------------------------------------------------------------

    def _entitlement(self, name: str) -> EntitlementConfig:
        config = self.entitlements.get(name)
        if config is None:
            raise GrantRefused("entitlement-unknown", f"no entitlement {name!r} is configured")
        return config

    def _duration(self, ask: Ask, config: EntitlementConfig, cap: float) -> float:
        duration = ask.duration if ask.duration is not None else (config.default_duration or cap)
        if not duration > 0:
            raise GrantRefused("duration-invalid", "ask for a duration above zero")
        if duration > cap:
            raise GrantRefused("duration-too-long", f"{ask.entitlement} lasts at most {span(cap)}")
        return min(duration, cap)

    def _explained(self, ask: Ask, config: EntitlementConfig) -> None:
        if config.require_reason and not ask.reason.strip():
            raise GrantRefused("reason-required", "give a reason")
        if config.require_ticket and not ask.ticket.strip():
            raise GrantRefused("ticket-required", "give a ticket reference")

    async def _no_open_grant(self, actor: Actor, ask: Ask) -> None:
        assert actor.provider is not None and actor.subject is not None
        now = self._clock()
        for grant in await self.access.store.of_subject(actor.provider, actor.subject):
            same = grant.entitlement == ask.entitlement and grant.route == ask.route
            if same and grant.status_at(now) in (GrantState.REQUESTED, GrantState.ACTIVE):
                raise GrantRefused("grant-open-exists", f"you already have an open {ask.entitlement} {grant.state.value}")

    def _new(self, actor: Actor, ask: Ask, duration: float, state: GrantState) -> Grant:
        assert actor.provider is not None and actor.subject is not None
        return Grant(
            id=new_grant_id(), provider=actor.provider, subject=actor.subject, user=actor.name,
            entitlement=ask.entitlement, state=state, requested_at=self._clock(), duration=duration,
            reason=_cut(ask.reason), ticket=_cut(ask.ticket), route=ask.route, requested_by=actor.name,
        )  # fmt: skip

    async def _open(self, grant_id: str, states: frozenset[GrantState]) -> Grant:
        grant = await self.access.store.get(grant_id)
        if grant is None:
            raise GrantRefused("grant-unknown", f"no grant {grant_id!r}")
        if grant.status_at(self._clock()) not in states:
            raise GrantRefused("grant-already-decided", f"grant {grant_id} is {grant.status_at(self._clock()).value}")
        return grant

    async def _replace(self, grant: Grant, expected: frozenset[GrantState]) -> None:
        if not await self.access.store.replace(grant, expected):
            raise GrantRefused("grant-already-decided", f"grant {grant.id} was decided meanwhile")

    async def _changed(self, grant: Grant, events: list[Reason], actor: Actor) -> None:
        now = self._clock()
        for event in events:
            self._record(event_record(event, grant, actor.name, now=now, request_id=self._request_id))
        self.access.cache.invalidate(grant.provider, grant.subject)  # this process: at once
        if self.access.events is None:
            return
        try:
            await announce(self.access.events, grant)
        except StoreUnavailable as error:
            # The other replicas converge at their cache's max age (cache.MAX_AGE).
            log.warning("grant %s changed but could not be announced: %s", grant.id, error)

    def _announce(self, text: str) -> None:
        if self.access.webhook is not None:
            self.access.webhook.announce(text)


def _demand_met(actor: Actor, demand: LoginDemand, now: float) -> None:
    identity = actor.identity
    if identity is None:
        return  # an operator: no login to judge
    if demand.acr is not None and identity.acr != demand.acr:
        raise StepUpRequired(demand)
    if not set(demand.amr or ()).issubset(identity.amr):
        raise StepUpRequired(demand)
    if demand.max_age is not None and (identity.auth_time is None or identity.auth_time < now - demand.max_age):
        raise StepUpRequired(demand)


def _cut(text: str) -> str:
    return text.strip()[:TEXT_MAX]


def _what(grant: Grant) -> str:
    scope = f" on {grant.route}" if grant.route else ""
    return f"{grant.entitlement}{scope} for {span(grant.duration)}"
