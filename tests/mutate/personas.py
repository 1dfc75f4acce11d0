"""Named identities shared by the mutate and upstream tests."""

from __future__ import annotations

from authgate.identity import Identity

alice_admin = Identity(
    subject="alice-sub",
    provider="corp",
    credential="session",
    email="alice@corp.example",
    email_verified=True,
    name="Alice Admin",
    username="alice",
    groups=("admins", "hr-staff"),
    roles=("admin",),
    acr="urn:corp:mfa",
    amr=("pwd", "otp"),
    auth_time=1_700_000_000.0,
    session_id="sess-alice-SECRET",
    claims={
        "employee_id": 4711,
        "org": {"unit": "HR", "tags": ["a", "b"]},
        "active": True,
        "manager": None,
        "ratio": 0.5,
    },
)

bob_contractor = Identity(
    subject="bob-sub",
    provider="corp",
    credential="bearer",
    email="bob@contractor.example",
    email_verified=True,
    groups=("contractors",),
)

zoe_customer = Identity(
    subject="zoe-sub",
    provider="shop",
    credential="session",
    email="zoë@shop.example",
    email_verified=True,
    name="Zoë 山田",
    groups=("vip", "eu,de"),
    session_id="sess-zoe",
)

# A hostile provider (or a user who may edit their own profile) puts header syntax
# and control characters into claims.
mallory_injector = Identity(
    subject="mallory-sub",
    provider="shop",
    credential="session",
    email="m@evil.example\r\nX-Authgate-User: admin",
    email_verified=True,
    name="Mal\x00lory\x7f\u0085 ",
    username=" mallory\tadmin",
    groups=("a\nb", "c\rd"),
    roles=("\u2028",),
    claims={"note": "x\r\n\r\nGET /admin HTTP/1.1"},
)

# A provider that did not say the address is verified (or said "true" as a string):
# the address must reach no upstream (nOAuth).
una_unverified = Identity(
    subject="una-sub",
    provider="social",
    credential="session",
    email="ceo@corp.example",
    groups=("users",),
)
