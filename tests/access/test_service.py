"""`GrantService`: the rules of asking, deciding and break-glass, and one record per event."""

from __future__ import annotations

import dataclasses

import pytest

from authgate.access.model import GrantRefused, GrantState
from authgate.access.runtime import build_access_runtime
from authgate.access.service import Actor, Ask, GrantService, StepUpRequired
from authgate.config.schema import GatewayConfig
from authgate.decisionlog.record import DecisionRecord
from authgate.events import MemoryEventChannel
from authgate.identity import Identity
from tests.testbed.clock import FakeClock

ROUTE = {"id": "db", "match": {"host": "db.example"}, "upstream": "http://127.0.0.1:9"}
ENTITLEMENTS = {
    "db-admin": {
        "max_duration": "1h",
        "default_duration": "30m",
        "approvers": {"groups": ["sre-leads"], "users": ["bob"]},
        "break_glass": {"groups": ["on-call"], "max_duration": "15m", "max_age": "5m"},
    },
    "kube-admin": {"max_duration": "2h", "approvers": {"groups": ["sre-leads"]}, "requesters": {"groups": ["sre"]},
                   "require_ticket": True, "step_up": {"acr": "mfa"}},
}  # fmt: skip


def person(name: str, *groups: str, acr: str = "pwd", auth_time: float | None = None) -> Identity:
    return Identity(
        subject=f"{name}-sub", provider="corp", credential="session", username=name,
        groups=groups, acr=acr, auth_time=auth_time,
    )  # fmt: skip


class Bed:
    def __init__(self) -> None:
        self.clock = FakeClock()
        config = GatewayConfig.model_validate({"routes": [ROUTE], "entitlements": ENTITLEMENTS})
        self.channel = MemoryEventChannel()
        self.access = build_access_runtime(config, None, kept_store=False, kept_webhook=False, events=self.channel)
        self.access.store._clock = self.clock  # type: ignore[attr-defined]  # the memory store's retention clock
        self.records: list[DecisionRecord] = []
        self.service = GrantService(
            self.access, config.entitlements, record=self.records.append, request_id="r-1", clock=self.clock
        )

    def events(self) -> list[tuple[str, str | None, str]]:
        return [(r.reason, r.user, r.grant.event if r.grant else "") for r in self.records]


@pytest.fixture
def bed() -> Bed:
    return Bed()


BOB = Actor.of(person("bob", "contractors"))
ALICE = Actor.of(person("alice", "sre-leads"))
EVE = Actor.of(person("eve", "marketing"))
ASK = Ask("db-admin", 600, reason="INC-42: replica lag")


async def test_request_then_approve_activates_with_records(bed: Bed) -> None:
    asked = await bed.service.request(BOB, ASK)
    assert asked.state is GrantState.REQUESTED and asked.user == "bob"
    active = await bed.service.approve(ALICE, asked.id, "ok")
    assert active.state is GrantState.ACTIVE and active.decided_by == "alice"
    assert active.expires_at == bed.clock.now + 600
    assert bed.events() == [
        ("grant-requested", "bob", "requested"),
        ("grant-approved", "alice", "approved"),
        ("grant-activated", "alice", "activated"),
    ]
    record = bed.records[1]
    assert record.request_id == "r-1" and record.grant is not None
    assert (record.grant.id, record.grant.user, record.grant.reason) == (asked.id, "bob", "INC-42: replica lag")


async def test_self_approval_is_refused_even_for_an_approver(bed: Bed) -> None:
    asked = await bed.service.request(BOB, ASK)  # bob is a listed approver
    with pytest.raises(GrantRefused) as refused:
        await bed.service.approve(BOB, asked.id)
    assert refused.value.code == "self-approval"
    stored = await bed.access.store.get(asked.id)
    assert stored is not None and stored.state is GrantState.REQUESTED


@pytest.mark.parametrize(
    ("actor", "ask", "code"),
    [
        (BOB, Ask("nope", 60, reason="x"), "entitlement-unknown"),
        (BOB, Ask("db-admin", 7200, reason="x"), "duration-too-long"),
        (BOB, Ask("db-admin", 0, reason="x"), "duration-invalid"),
        (BOB, Ask("db-admin", 60, reason="  "), "reason-required"),
        (BOB, Ask("kube-admin", 60, reason="x", ticket="T-1"), "requester-not-allowed"),
        (Actor.of(person("sam", "sre", acr="mfa")), Ask("kube-admin", 60, reason="x"), "ticket-required"),
    ],
)
async def test_requests_the_rules_refuse(bed: Bed, actor: Actor, ask: Ask, code: str) -> None:
    with pytest.raises(GrantRefused) as refused:
        await bed.service.request(actor, ask)
    assert refused.value.code == code
    assert bed.records == [] and await bed.access.store.recent() == []


async def test_the_entitlement_step_up_is_asked_of_the_requester(bed: Bed) -> None:
    with pytest.raises(StepUpRequired) as needed:
        await bed.service.request(Actor.of(person("sam", "sre")), Ask("kube-admin", 60, reason="x", ticket="T-1"))
    assert needed.value.demand.acr == "mfa"
    granted = await bed.service.request(Actor.of(person("sam", "sre", acr="mfa")), Ask("kube-admin", 60, reason="x", ticket="T-1"))
    assert granted.ticket == "T-1"


async def test_only_approvers_decide(bed: Bed) -> None:
    asked = await bed.service.request(BOB, ASK)
    with pytest.raises(GrantRefused) as refused:
        await bed.service.approve(EVE, asked.id)
    assert refused.value.code == "approver-not-allowed"
    with pytest.raises(GrantRefused):
        await bed.service.deny(EVE, asked.id)
    denied = await bed.service.deny(ALICE, asked.id, "not now")
    assert denied.state is GrantState.DENIED
    with pytest.raises(GrantRefused) as again:
        await bed.service.approve(ALICE, asked.id)
    assert again.value.code == "grant-already-decided"


async def test_one_open_grant_per_entitlement(bed: Bed) -> None:
    await bed.service.request(BOB, ASK)
    with pytest.raises(GrantRefused) as refused:
        await bed.service.request(BOB, ASK)
    assert refused.value.code == "grant-open-exists"


async def test_break_glass_needs_a_fresh_login_and_members(bed: Bed) -> None:
    ask = Ask("db-admin", 600, reason="prod down")
    stale = Actor.of(person("olly", "on-call", auth_time=bed.clock.now - 301))
    with pytest.raises(StepUpRequired) as needed:
        await bed.service.break_glass(stale, ask)
    assert needed.value.demand.max_age == 300
    with pytest.raises(GrantRefused) as refused:
        await bed.service.break_glass(Actor.of(person("eve", auth_time=bed.clock.now)), ask)
    assert refused.value.code == "break-glass-not-allowed"
    fresh = Actor.of(person("olly", "on-call", auth_time=bed.clock.now - 10))
    with pytest.raises(GrantRefused) as long:
        await bed.service.break_glass(fresh, Ask("db-admin", 1800, reason="prod down"))
    assert long.value.code == "duration-too-long"  # break_glass.max_duration 15m
    grant = await bed.service.break_glass(fresh, ask)
    assert grant.state is GrantState.ACTIVE and grant.break_glass and grant.decided_by == "olly"
    assert bed.events() == [("grant-break-glass", "olly", "break-glass"), ("grant-activated", "olly", "activated")]


async def test_revoke_and_expiry_are_recorded_once(bed: Bed) -> None:
    first = await bed.service.approve(ALICE, (await bed.service.request(BOB, ASK)).id)
    other = await bed.service.request(Actor.of(person("carl")), Ask("db-admin", 60, reason="x"))
    second = await bed.service.approve(ALICE, other.id)
    revoked = await bed.service.revoke(ALICE, first.id, "done")
    assert revoked.state is GrantState.REVOKED
    bed.records.clear()
    bed.clock.advance(61)
    assert [g.id for g in await bed.service.expire_due()] == [second.id]
    assert await bed.service.expire_due() == []  # already ended: nothing to record twice
    assert bed.events() == [("grant-expired", "gateway", "expired")]
    assert bed.records[0].decision.value == "deny"


async def test_a_change_reaches_the_channel(bed: Bed) -> None:
    seen: list[tuple[str, str, str]] = []
    bed.channel.subscribe(lambda e: seen.append((e.kind.value, e.subject, e.ref)))
    await bed.channel.start()
    asked = await bed.service.request(BOB, ASK)
    import asyncio

    await asyncio.sleep(0.01)
    assert seen == [("grant-changed", "bob-sub", asked.id)]


async def test_an_operator_grants_and_revokes(bed: Bed) -> None:
    ops = Actor.operator("root")
    grant = await bed.service.grant(ops, ("corp", "dana-sub", "dana"), dataclasses.replace(ASK, route="db"))
    assert (grant.state, grant.requested_by, grant.decided_by, grant.route) == (GrantState.ACTIVE, "operator:root", "operator:root", "db")
    with pytest.raises(GrantRefused):
        await bed.service.grant(ALICE, ("corp", "dana-sub", "dana"), ASK)
    assert (await bed.service.revoke(ops, grant.id)).state is GrantState.REVOKED
