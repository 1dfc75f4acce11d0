"""`entitlement: [..]`: held only with an active grant on the route; fails closed."""

from __future__ import annotations

import dataclasses

import pytest

from authgate.policy import reasons as r
from tests.policy.personas import alice_admin, anonymous, bob_contractor, policy, request, run

ENTRY = {"entitlement": ["db-admin", "db-ro"]}


@pytest.mark.parametrize(
    ("identity", "grants", "allowed", "codes"),
    [
        (bob_contractor, {"db-admin": "g-1"}, True, (r.ENTITLEMENT_OK,)),
        (bob_contractor, {"db-ro": "g-2"}, True, (r.ENTITLEMENT_OK,)),
        (bob_contractor, {"kube-admin": "g-3"}, False, (r.POLICY_NO_MATCH, r.ENTITLEMENT_REQUIRED)),
        (bob_contractor, {}, False, (r.POLICY_NO_MATCH, r.ENTITLEMENT_REQUIRED)),
        # The grants could not be read: unknown, never allowed.
        (bob_contractor, None, False, (r.POLICY_NO_MATCH, r.ENTITLEMENT_UNKNOWN)),
        (anonymous, {"db-admin": "g-1"}, False, (r.POLICY_NO_MATCH, r.USER_UNAUTHENTICATED)),
    ],
)
def test_allow_rule_table(
    identity: object, grants: dict[str, str] | None, allowed: bool, codes: tuple[str, ...]
) -> None:
    inp = dataclasses.replace(request(identity), grants=grants)  # type: ignore[arg-type]
    result = run(policy(allow=[ENTRY]), inp)
    assert (result.allowed, result.reasons) == (allowed, codes)


def test_combined_with_groups_both_must_hold() -> None:
    rule = {"and": [{"groups": ["admins"]}, {"entitlement": ["db-admin"]}]}
    with_grant = dataclasses.replace(request(alice_admin), grants={"db-admin": "g-1"})
    assert run(policy(allow=[rule]), with_grant).allowed
    assert not run(policy(allow=[rule]), dataclasses.replace(with_grant, grants={})).allowed
    bob = dataclasses.replace(request(bob_contractor), grants={"db-admin": "g-1"})
    assert not run(policy(allow=[rule]), bob).allowed


def test_a_deny_rule_trips_when_grants_are_unreadable() -> None:
    config = policy(allow=[{"authenticated": True}], deny=[{"not": {"entitlement": ["db-admin"]}}])
    held = dataclasses.replace(request(bob_contractor), grants={"db-admin": "g-1"})
    assert run(config, held).allowed
    assert not run(config, dataclasses.replace(held, grants={})).allowed
    unknown = run(config, dataclasses.replace(held, grants=None))
    assert not unknown.allowed and unknown.reasons == (r.ENTITLEMENT_UNKNOWN,)


def test_explain_takes_the_grants_the_identity_holds(tmp_path: object) -> None:
    from pathlib import Path

    from authgate.config.snapshot import build_snapshot
    from authgate.policy.explain import explain

    path = Path(str(tmp_path)) / "authgate.yaml"
    path.write_text(
        "entitlements: {db-admin: {max_duration: 1h, approvers: {groups: [leads]}}}\n"
        "routes:\n  - {id: db, match: {host: db.example}, upstream: 'http://127.0.0.1:9',\n"
        "     policy: {allow: [{entitlement: [db-admin]}]}}\n"
    )
    snapshot = build_snapshot(path, {})

    def ask(grants: frozenset[str]) -> tuple[str, tuple[str, ...]]:
        found = explain(
            snapshot.routes, snapshot.config, url="https://db.example/x", method="GET",
            identity=bob_contractor, ip="10.0.0.1", country=None, now=0.0, grants=grants,
        )  # fmt: skip
        return found.decision, found.reasons

    assert ask(frozenset({"db-admin"})) == ("allow", (r.ENTITLEMENT_OK,))
    assert ask(frozenset()) == ("deny", (r.POLICY_NO_MATCH, r.ENTITLEMENT_REQUIRED))
