"""HeaderBudget: which groups the identity headers show, and what a size budget drops.

Tables over the config shapes (`only` list / `policy`, `match`, both) and over block
sizes (under, just over, far over the budget), with the named personas.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from pydantic import ValidationError

from authgate.config.schema_auth import IdentityHeaders
from authgate.config.schema_policy import PolicyConfig
from authgate.identity import Identity
from authgate.mutate.header_budget import HeaderBudget, policy_groups, wire_size
from authgate.mutate.identity_headers import compile_templates, identity_headers
from tests.mutate.personas import alice_admin

# Alice in many groups, in the provider's order.
alice_many = dataclasses.replace(
    alice_admin,
    groups=("app-billing", "admins", "hr-staff", "App-Upper", "x-app-y", "team-1", "app-"),
)
POLICY = PolicyConfig.model_validate(
    {
        "allow": [
            {"and": [{"groups": ["hr-staff"]}, {"mfa": True}]},
            {"or": [{"roles": ["admin"]}, {"groups": ["auditors", "team-1"]}]},
        ],
        "deny": [{"not": {"groups": ["admins"]}}],
    }
)


def budget(headers: dict[str, Any], policy: PolicyConfig = POLICY) -> HeaderBudget:
    config = IdentityHeaders.model_validate(headers)
    return HeaderBudget.build(config, policy, compile_templates(config.templates))


def test_policy_groups_walks_every_rule_and_combinator() -> None:
    assert set(policy_groups(POLICY)) == {"hr-staff", "auditors", "team-1", "admins"}


@pytest.mark.parametrize(
    ("groups", "shown"),
    [
        ({"only": ["hr-staff", "nobody"]}, ("hr-staff",)),
        ({"only": "policy"}, ("admins", "hr-staff", "team-1")),
        ({"match": "^app-"}, ("app-billing", "app-")),
        ({"match": "app"}, ("app-billing", "x-app-y", "app-")),  # searched, not anchored
        ({"match": "(?i)^app-"}, ("app-billing", "App-Upper", "app-")),
        ({"match": "^app-.+$"}, ("app-billing",)),
        ({"only": "policy", "match": "^app-"}, ("app-billing", "admins", "hr-staff", "team-1", "app-")),
        ({"only": ["HR-STAFF"]}, ()),  # names compare exactly, as the policy does
        ({"only": ["nobody"]}, ()),
    ],
)
def test_groups_shown(groups: dict[str, Any], shown: tuple[str, ...]) -> None:
    identity = budget({"groups": groups}).shown(alice_many)
    assert identity.groups == shown
    assert dataclasses.replace(identity, groups=alice_many.groups) == alice_many


def test_without_a_filter_the_identity_is_shown_whole() -> None:
    assert budget({}).shown(alice_many) is alice_many


def test_only_policy_of_a_policy_without_groups_shows_none() -> None:
    empty = PolicyConfig.model_validate({"allow": [{"authenticated": True}]})
    assert budget({"groups": {"only": "policy"}}, empty).shown(alice_many).groups == ()


def _block(identity: Identity, headers: dict[str, Any], assertion: str = "a.b.c") -> list[tuple[str, str]]:
    config = IdentityHeaders.model_validate(headers)
    return identity_headers(
        identity, compile_templates(config.templates), assertion=assertion, access_token=None
    )


def _size(pairs: list[tuple[str, str]]) -> int:
    return sum(wire_size(n, v) for n, v in pairs)


TEMPLATES = {"X-Team": "team:{groups}", "X-Perms": "{roles}", "X-Dept": "{claims.org.unit}"}
big = dataclasses.replace(
    alice_admin,
    groups=tuple(f"group-number-{i:04d}" for i in range(400)),  # ~7.6 KB as one header
    roles=tuple(f"role-number-{i:04d}" for i in range(100)),  # ~1.7 KB
)


@pytest.mark.parametrize(
    ("identity", "max_bytes", "dropped"),
    [
        (alice_admin, 8192, ()),
        (big, 1 << 20, ()),
        # over: the groups headers go (the default one and the {groups} template) ...
        (big, 8192, ("X-Authgate-Groups", "X-Team")),
        # ... and when that is not enough, the roles headers too
        (big, 1024, ("X-Authgate-Groups", "X-Team", "X-Authgate-Roles", "X-Perms")),
        (big, 512, ("X-Authgate-Groups", "X-Team", "X-Authgate-Roles", "X-Perms")),
    ],
)
def test_fit_drops_groups_then_roles(identity: Identity, max_bytes: int, dropped: tuple[str, ...]) -> None:
    headers = {**TEMPLATES, "max_bytes": max_bytes}
    pairs = _block(identity, headers)
    kept, gone = budget(headers).fit(pairs)
    assert gone == dropped
    assert [n for n, _ in kept] == [n for n, _ in pairs if n not in dropped]
    names = dict(kept)
    assert names["X-Authgate-User"] == "alice" and names["X-Authgate-Assertion"] == "a.b.c"
    assert names["X-Dept"] == "HR"  # a claim template is never a groups carrier
    if dropped and _size(kept) > max_bytes:
        assert max_bytes < 1024  # only when the rest alone is over the budget


def test_fit_stops_as_soon_as_the_block_fits() -> None:
    pairs = _block(big, TEMPLATES)
    groups_only = _size(pairs) - sum(
        wire_size(n, v) for n, v in pairs if n in ("X-Authgate-Groups", "X-Team")
    )
    kept, gone = budget({**TEMPLATES, "max_bytes": groups_only}).fit(pairs)
    assert gone == ("X-Authgate-Groups", "X-Team") and _size(kept) == groups_only
    kept, gone = budget({**TEMPLATES, "max_bytes": _size(pairs)}).fit(pairs)
    assert gone == () and kept == pairs


def test_the_assertion_counts_and_is_never_dropped() -> None:
    assertion = "x" * 6000
    pairs = _block(alice_admin, {}, assertion)
    kept, gone = budget({"max_bytes": 4096}).fit(pairs)
    assert gone == ("X-Authgate-Groups", "X-Authgate-Roles")
    assert dict(kept)["X-Authgate-Assertion"] == assertion


# --- the config shape --------------------------------------------------------------


def test_templates_and_options_share_the_mapping() -> None:
    config = IdentityHeaders.model_validate(
        {"X-Employee-Id": "{claims.employee_id}", "Groups": "{groups}",
         "groups": {"only": ["a"]}, "max_bytes": 4096}
    )
    assert config.templates == {"X-Employee-Id": "{claims.employee_id}", "Groups": "{groups}"}
    assert config.groups is not None and config.groups.only == ["a"]
    assert config.max_bytes == 4096
    assert IdentityHeaders().max_bytes == 8192 and IdentityHeaders().templates == {}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"max_byte": 4096}, "'max_byte' is not an option of headers (groups, max_bytes, preset)"),
        ({"grups": {"only": ["a"]}}, "'grups' is not an option of headers"),
        ({"groups": {}}, "give only (a list, or policy) and/or match"),
        ({"groups": {"only": []}}, "at least 1 item"),
        ({"groups": {"only": "everyone"}}, "policy"),
        ({"groups": {"match": "(unclosed"}}, "not a regex"),
        ({"groups": {"only": ["a"], "exclude": ["b"]}}, "Extra inputs are not permitted"),
        ({"max_bytes": 100}, "greater than or equal to 512"),
        ({"max_bytes": "8k"}, "valid integer"),
        ({"X_Bad": "{user}"}, "not a header name: 'X_Bad'"),
        ({"groups": "{groups}"}, "valid dictionary"),  # lowercase option names are options
    ],
)
def test_bad_headers_config_is_refused(headers: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        IdentityHeaders.model_validate(headers)
