"""Named identities and a helper to run one policy over one request, for the tables.

The clock is fixed: NOW is Monday 2026-03-02 10:00 UTC (11:00 in Paris).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authgate.config.schema_policy import PolicyConfig
from authgate.identity import Identity
from authgate.policy.compile import compile_policy
from authgate.policy.evaluate import PolicyInput, PolicyResult, evaluate

NOW = 1_772_445_600.0  # Monday 2026-03-02 10:00:00 UTC
MINUTE = 60.0
HOUR = 3600.0

alice_admin = Identity(
    subject="alice-sub",
    provider="corp",
    credential="session",
    email="Alice@Corp.com",
    email_verified=True,
    name="Alice Admin",
    username="alice",
    groups=("admins", "hr-staff"),
    roles=("admin",),
    acr="urn:corp:mfa",
    amr=("pwd", "hwk"),
    auth_time=NOW - 10 * MINUTE,
    claims={
        "scope": "openid orders.read orders.write",
        "org": {"unit": "HR", "level": 3, "tags": ["people", "payroll"]},
        "active": True,
        "consents": ["terms-2026", "marketing"],
    },
)

bob_contractor = Identity(
    subject="bob-sub",
    provider="corp",
    credential="bearer",
    email="bob@contractor.example",
    email_verified=True,
    username="bob",
    groups=("contractors",),
    roles=("reader",),
    acr="urn:corp:pwd",
    amr=("pwd",),
    auth_time=NOW - 9 * HOUR,
    claims={"scope": "openid orders.readonly", "org": {"unit": "EXT", "level": 1}, "active": 1},
)

carol_customer = Identity(
    subject="carol-sub",
    provider="shop",
    credential="session",
    email="carol@eu.shop.example",
    email_verified=True,  # the shop verifies addresses at sign-up
    groups=(),
    amr=("pwd", "otp"),
    auth_time=None,
    claims={"consents": {"terms-2026": "2026-01-05", "marketing": False}},
)

anonymous: Identity | None = None

PERSONAS: Mapping[str, Identity | None] = {
    "alice_admin": alice_admin,
    "bob_contractor": bob_contractor,
    "carol_customer": carol_customer,
    "anonymous": anonymous,
}


def request(
    identity: Identity | None,
    *,
    method: str = "GET",
    path: str = "/",
    ip: str = "10.1.2.3",
    now: float = NOW,
    country: str | None = "FR",
    device: Mapping[str, Any] | None = None,
    risk: float | None = None,
    consent_claim: str = "consents",
    grants: Mapping[str, str] | None = None,
) -> PolicyInput:
    return PolicyInput(method, path, ip, now, identity, country, device, risk, consent_claim, grants)


def policy(
    allow: list[Any] | None = None, deny: list[Any] | None = None, **more: Any
) -> PolicyConfig:
    return PolicyConfig.model_validate({"allow": allow or [], "deny": deny or [], **more})


def run(config: PolicyConfig, inp: PolicyInput, route_id: str = "r") -> PolicyResult:
    return evaluate(compile_policy(route_id, config, audience=None), inp)


def holds(entry: dict[str, Any], inp: PolicyInput) -> bool:
    """Whether `entry` alone, as the only allow rule, allows `inp`."""
    return run(policy(allow=[entry]), inp).allowed
