"""`entitlements:` and `access:`: shapes, defaults, and errors with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.config.errors import ConfigError
from authgate.config.snapshot import build_snapshot

GOOD = """\
entitlements:
  db-admin:
    max_duration: 1h
    approvers: {groups: [sre-leads]}
    require_reason: true
    step_up: {acr: urn:corp:mfa}
    break_glass: {groups: [on-call], max_duration: 30m}
routes:
  - id: db
    match: {host: db.example}
    upstream: http://127.0.0.1:9000
    policy:
      allow:
        - entitlement: [db-admin]
"""


def snapshot_of(tmp_path: Path, text: str) -> object:
    path = tmp_path / "authgate.yaml"
    path.write_text(text)
    return build_snapshot(path, {})


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        snapshot_of(tmp_path, text)
    prefix = str(tmp_path / "authgate.yaml")
    return [str(p).removeprefix(prefix) for p in caught.value.problems]


def test_a_good_block_loads_and_the_policy_knows_its_entitlements(tmp_path: Path) -> None:
    snapshot = snapshot_of(tmp_path, GOOD)
    config = snapshot.config  # type: ignore[attr-defined]
    db_admin = config.entitlements["db-admin"]
    assert (db_admin.max_duration, db_admin.break_glass.max_duration) == (3600.0, 1800.0)
    assert db_admin.break_glass.max_age == 300.0  # a fresh login by default
    assert config.access.webhook is None
    policy = snapshot.compiled.policies["db"]  # type: ignore[attr-defined]
    assert policy.policy.entitlements == frozenset({"db-admin"})


def test_an_unknown_entitlement_in_a_policy_names_file_line_and_key(tmp_path: Path) -> None:
    text = GOOD.replace("entitlement: [db-admin]", "entitlement: [db-admn]")
    assert problems_of(tmp_path, text) == [
        ":14 routes[0].policy.allow[0].entitlement[0]: no entitlement 'db-admn' under entitlements:"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("max_duration: 1h", "max_duration: 40d", ":3 entitlements.db-admin.max_duration: at most 30d"),
        ("max_duration: 1h", "max_duraton: 1h", ":3 entitlements.db-admin.max_duraton: unknown key"),
        ("{groups: [sre-leads]}", "{groups: []}", ":4 entitlements.db-admin.approvers.groups"),
        ("{groups: [sre-leads]}", "{}", ":4 entitlements.db-admin.approvers: give groups, users or both"),
        ("max_duration: 30m}", "max_duration: 2h}", ":2 entitlements.db-admin: break_glass.max_duration is longer"),
        ("  db-admin:", "  DB Admin:", ':2 entitlements["DB Admin"]: not an entitlement name'),
        ("step_up: {acr: urn:corp:mfa}", "step_up: {}", ":6 entitlements.db-admin.step_up: give acr, amr or max_age"),
    ],
)
def test_bad_entitlements_name_file_line_and_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    problems = problems_of(tmp_path, GOOD.replace(old, new))
    assert any(p.startswith(expected) for p in problems), problems


def test_an_entitlement_nobody_could_hold_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("    approvers: {groups: [sre-leads]}\n", "").replace(
        "    break_glass: {groups: [on-call], max_duration: 30m}\n", ""
    )
    assert problems_of(tmp_path, text) == [
        ":2 entitlements.db-admin: give approvers (or break_glass): nobody could ever hold this entitlement"
    ]


def test_webhook_must_be_a_url(tmp_path: Path) -> None:
    text = GOOD + "access: {webhook: {url: not-a-url}}\n"
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1 and problems[0].startswith(":15 access.webhook.url: not a URL")
