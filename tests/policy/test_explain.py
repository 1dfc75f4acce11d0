"""`authgate explain`: route, decision, rule and reasons; exit 0 allowed, 1 not, 2 unusable."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from authgate.config.snapshot import build_snapshot
from authgate.policy.explain import explain
from authgate.policy.explain_cli import add_explain_arguments, run_explain
from tests.policy.personas import NOW, alice_admin

FILES = Path(__file__).parent / "files"
GATEWAY = str(FILES / "gateway.yaml")
FR = ["--country", "FR"]  # hr denies KP: without a country it refuses (fail closed)
ALICE = ["--user", "alice", "--groups", "hr-staff,admins", "--amr", "pwd", "--amr", "otp", *FR]


def explain_cli(*argv: str, config: str = GATEWAY) -> tuple[int, dict[str, str]]:
    parser = argparse.ArgumentParser()
    add_explain_arguments(parser)
    out = io.StringIO()
    code = run_explain(parser.parse_args(["-c", config, *argv]), out)
    lines = [line.split(":", 1) for line in out.getvalue().splitlines() if ":" in line]
    return code, {key.strip(): value.strip() for key, value in lines}


def test_allowed() -> None:
    code, shown = explain_cli("--url", "https://hr.example.com/", *ALICE)
    assert code == 0
    assert shown == {
        "route": "hr",
        "path": "/",
        "decision": "allow (200)",
        "rule": "routes[hr].policy.allow[0]",
        "reasons": "groups-ok, mfa-ok",
    }


def test_denied() -> None:
    code, shown = explain_cli(
        "--url",
        "https://hr.example.com/docs/a",
        "--method",
        "POST",
        "--user",
        "bob",
        "--groups",
        "contractors",
        *FR,
    )
    assert code == 1
    assert shown["decision"] == "deny (403)"
    assert shown["rule"] == "(none)"
    assert shown["reasons"] == "policy-no-match, groups-unauthorized, method-unauthorized"


def test_denied_by_a_deny_rule_on_a_non_normalized_url() -> None:
    # the same normalization as the gateway: //internal/../internal/%78 is /internal/x
    code, shown = explain_cli("--url", "https://HR.example.com//internal/../internal/%78", *ALICE)
    assert code == 1
    assert (shown["path"], shown["rule"]) == ("/internal/x", "routes[hr].policy.deny[0]")


def test_not_logged_in() -> None:
    code, shown = explain_cli("--url", "https://hr.example.com/", *FR)
    assert code == 1
    assert shown["decision"] == "login (401)"
    assert shown["reasons"] == "user-unauthenticated"


def test_public_path_needs_no_login() -> None:
    code, shown = explain_cli("--url", "https://hr.example.com/static/app.css")
    assert code == 0
    assert (shown["rule"], shown["reasons"]) == ("routes[hr].public[0]", "route-public")


def test_step_up() -> None:
    code, shown = explain_cli(
        "--url", "https://hr.example.com/payroll/x", *ALICE, "--auth-age", "600"
    )
    assert code == 1
    assert shown["decision"] == "step_up (401)"
    assert shown["reasons"] == "acr-insufficient"
    assert (shown["acr_values"], shown["max_age"], shown["amr"]) == ("urn:corp:mfa", "300", "hwk")


def test_claims_go_through_the_providers_mapping() -> None:
    claims = '{"sub": "svc-1", "realm_access": {"roles": ["orders-admin"]}}'
    code, shown = explain_cli(
        "--url", "https://api.example.com/v1/orders", "--method", "POST", "--claims", claims
    )
    assert code == 0
    assert shown["rule"] == "routes[api].policy.allow[1]"
    code, shown = explain_cli(
        "--url", "https://api.example.com/v1/orders", "--claims", '{"scope": "openid orders.read"}'
    )
    assert (code, shown["reasons"]) == (0, "claim-ok, method-ok")


def test_provider_defaults_to_the_routes_first() -> None:
    code, shown = explain_cli(
        "--url", "https://shop.example.com/cart", "--claims", '{"consents": ["terms-2026"]}'
    )
    assert (code, shown["rule"]) == (0, "routes[shop].default[customer].allow[0]")
    code, shown = explain_cli("--url", "https://hr.example.com/", *ALICE, "--provider", "shop")
    assert (code, shown["reasons"]) == (1, "provider-not-accepted")


def test_country_and_time() -> None:
    code, shown = explain_cli("--url", "https://hr.example.com/", *ALICE, "--country", "kp")
    assert (code, shown["reasons"]) == (1, "country-unauthorized")
    code, shown = explain_cli("--url", "https://hr.example.com/", "--user", "alice")
    assert (code, shown["reasons"]) == (1, "country-unknown")
    code, shown = explain_cli(
        "--url", "https://hr.example.com/", *ALICE, "--at", "2026-03-02T10:00:00+01:00"
    )
    assert code == 0


@pytest.mark.parametrize(
    ("url", "decision", "reasons"),
    [
        ("https://nowhere.example.com/", "deny (404)", "host-unknown"),
        ("https://hr.example.com/a%2Fb", "deny (400)", "path-invalid"),
        ("https://user@hr.example.com/", "deny (400)", "host-invalid"),
        ("https://api.example.com/v2/x", "deny (404)", "route-not-found"),
    ],
)
def test_requests_no_route_serves(url: str, decision: str, reasons: str) -> None:
    code, shown = explain_cli("--url", url)
    assert (code, shown["decision"], shown["reasons"]) == (1, decision, reasons)


def test_config_that_does_not_compile_is_exit_2() -> None:
    code, shown = explain_cli(
        "--url", "https://hr.example.com/", config=str(FILES / "broken_policy.yaml")
    )
    assert code == 2
    assert any("routes[0].policy.allow[0].ip[0]" in f"{k}:{v}" for k, v in shown.items())


@pytest.mark.parametrize(
    "argv",
    [
        ["--claims", "{}", "--user", "x"],
        ["--claims", "[1]"],
        ["--claims", "{nope"],
        ["--at", "yesterday"],
        ["--device", "1"],
    ],
)
def test_unusable_options_are_exit_2(argv: list[str]) -> None:
    assert explain_cli("--url", "https://hr.example.com/", *argv)[0] == 2


def test_missing_config_is_exit_2(tmp_path: Path) -> None:
    assert (
        explain_cli("--url", "https://hr.example.com/", config=str(tmp_path / "none.yaml"))[0] == 2
    )


def test_explain_core_with_precompiled_policies() -> None:
    from authgate.policy.compile import compile_route_policy

    snapshot = build_snapshot(GATEWAY, {})
    policies = {route.id: compile_route_policy(route) for route in snapshot.config.routes}
    explanation = explain(
        snapshot.routes,
        snapshot.config,
        url="https://hr.example.com/",
        method="GET",
        identity=alice_admin,
        ip="10.0.0.1",
        country="FR",
        now=NOW,
        policies=policies,
    )
    assert (explanation.allowed, explanation.route_id, explanation.rule) == (
        True,
        "hr",
        "routes[hr].policy.allow[0]",
    )
