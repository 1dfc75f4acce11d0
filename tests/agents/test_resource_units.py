"""The pure pieces: htu normalization, nonces, challenges, scopes, and `explain` on scopes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from authgate.decision import Decision, Outcome, Reason
from authgate.policy.criteria.scopes import scopes_of
from authgate.policy.explain_cli import add_explain_arguments, run_explain
from authgate.resource.challenge import BearerChallenge, insufficient_scope, unauthorized
from authgate.resource.dpop import normalize_htu, token_hash
from authgate.resource.nonce import DpopNonces

SECRET_A = "a" * 32
SECRET_B = "b" * 32


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://api.example.com/mcp", "https://api.example.com/mcp"),
        ("HTTPS://API.Example.COM:443/mcp", "https://api.example.com/mcp"),
        ("http://127.0.0.1:80/a/./b/../c", "http://127.0.0.1/a/c"),
        ("http://127.0.0.1:8080//a%7e", "http://127.0.0.1:8080/a~"),
        ("https://api.example.com", "https://api.example.com/"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ("ftp://api.example.com/x", None),
        ("https://user@api.example.com/x", None),
        ("https://api.example.com/%2e%2e%2fetc", None),  # an encoded slash: refused
        ("https://api.example.com:99999/x", None),
        ("/relative", None),
    ],
)
def test_htu_normalization(url: str, normal: str | None) -> None:
    assert normalize_htu(url) == normal


def test_ath_is_the_rfc_9449_example() -> None:
    # RFC 9449 §7.1's example token and its `ath`.
    assert token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


def test_nonces_are_good_at_every_replica_for_their_lifetime() -> None:
    replica_a, replica_b = DpopNonces.from_secrets([SECRET_A]), DpopNonces.from_secrets([SECRET_A])
    nonce = replica_a.issue(1000.0)
    assert replica_b.fresh(nonce, 1030.0, max_age=60, skew=5)
    assert not replica_b.fresh(nonce, 1061.0, max_age=60, skew=5)  # too old
    assert not replica_b.fresh(nonce, 990.0, max_age=60, skew=5)  # from beyond the skew
    stamp, _, mac = nonce.partition(".")
    assert not replica_b.fresh(f"{int(stamp) + 1}.{mac}", 1030.0, max_age=60, skew=5)  # forged time
    assert not replica_b.fresh("²³.x", 1030.0, max_age=60, skew=5)
    assert not DpopNonces.from_secrets([SECRET_B]).fresh(nonce, 1030.0, max_age=60, skew=5)
    rotated = DpopNonces.from_secrets([SECRET_B, SECRET_A])  # the old secret still verifies
    assert rotated.fresh(nonce, 1030.0, max_age=60, skew=5)


METADATA = "https://api.example.com/.well-known/oauth-protected-resource/mcp"


def challenge(dpop: str) -> BearerChallenge:
    return BearerChallenge(METADATA, dpop, ("ES256",))  # type: ignore[arg-type]


def login(reason: Reason) -> Decision:
    return Decision(Outcome.LOGIN, (reason,), route_id="mcp", status=401)


@pytest.mark.parametrize(
    ("dpop", "reason", "expected"),
    [
        ("off", Reason.USER_UNAUTHENTICATED, f'Bearer realm="authgate", resource_metadata="{METADATA}"'),
        (
            "off",
            Reason.DPOP_NOT_ACCEPTED,
            'Bearer realm="authgate", error="invalid_request", error_description="dpop-not-accepted", '
            f'resource_metadata="{METADATA}"',
        ),
        (
            "required",
            Reason.TOKEN_EXPIRED,
            'DPoP realm="authgate", error="invalid_token", error_description="token-expired", '
            f'algs="ES256", resource_metadata="{METADATA}"',
        ),
        (
            "allowed",
            Reason.DPOP_NONCE_REQUIRED,
            f'Bearer realm="authgate", resource_metadata="{METADATA}", DPoP realm="authgate", '
            f'error="use_dpop_nonce", error_description="dpop-nonce-required", algs="ES256", '
            f'resource_metadata="{METADATA}"',
        ),
    ],
)
def test_challenges(dpop: str, reason: Reason, expected: str) -> None:
    assert unauthorized(login(reason), challenge(dpop)) == expected


def test_insufficient_scope_answers_in_the_scheme_used() -> None:
    assert insufficient_scope("mcp:tools", challenge("allowed"), "dpop").startswith(
        'DPoP realm="authgate", error="insufficient_scope", scope="mcp:tools"'
    )
    assert insufficient_scope("mcp:tools", challenge("required"), "bearer").startswith("DPoP ")


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "a b  c"}, {"a", "b", "c"}),
        ({"scp": ["a", "b"]}, {"a", "b"}),
        ({"scp": "a b"}, {"a", "b"}),
        ({"scope": "a", "scp": ["b"]}, {"a"}),  # `scope` (RFC 9068) first
        ({"scope": 7}, set()),
        ({"scp": ["a", 1]}, set()),
        ({}, set()),
    ],
)
def test_scopes_of(claims: dict[str, object], scopes: set[str]) -> None:
    assert scopes_of(claims) == scopes


MCP = str(Path(__file__).parent / "files" / "mcp.yaml")


@pytest.mark.parametrize(
    ("scope", "code", "shown"),
    [
        ("mcp:tools", 0, {"decision": "allow (200)", "reasons": "scopes-ok"}),
        (
            "orders.read",
            1,
            {"decision": "deny (403)", "reasons": "policy-no-match, scopes-insufficient", "scope": "mcp:tools mcp:admin"},
        ),
    ],
)
def test_explain_answers_scopes_as_the_gateway(scope: str, code: int, shown: dict[str, str]) -> None:
    parser = argparse.ArgumentParser()
    add_explain_arguments(parser)
    out = io.StringIO()
    argv = ["-c", MCP, "--url", "https://api.example.com/mcp", "--claims", json.dumps({"scope": scope})]
    assert run_explain(parser.parse_args(argv), out) == code
    lines = dict(line.split(":", 1) for line in out.getvalue().splitlines() if ":" in line)
    assert {key: lines[key].strip() for key in shown} == shown
