"""Migration presets as tables: names and value formats per tool, per mode, and how a
route's own `headers:` extend or replace them (the e2e side: tests/operators/test_presets.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from authgate.config.schema_auth import IdentityHeaders
from authgate.config.schema_headers import GatewayHeaders
from authgate.mutate.header_budget import HeaderBudget
from authgate.mutate.identity_headers import identity_headers
from authgate.mutate.presets import PRESETS, compile_route_headers
from authgate.mutate.spoofed import IDENTITY
from authgate.config.schema_policy import PolicyConfig
from tests.mutate.personas import alice_admin, bob_contractor

ASSERTION = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"


def sent(headers: dict[str, Any], default: str | None = None, *, forward_auth: bool = False) -> dict[str, str]:
    templates = compile_route_headers(IdentityHeaders(**headers), default)
    pairs = identity_headers(
        alice_admin, templates, assertion=ASSERTION, access_token=None, forward_auth=forward_auth
    )
    names = [n.lower() for n, _ in pairs]
    assert len(names) == len(set(names)), "a header sent twice"
    return {n: v for n, v in pairs if not n.startswith("X-Authgate-")}


@pytest.mark.parametrize(
    ("preset", "forward_auth", "want"),
    [
        (
            "oauth2-proxy",
            False,
            {
                "X-Forwarded-User": "alice-sub",
                "X-Forwarded-Email": "alice@corp.example",
                "X-Forwarded-Groups": "admins,hr-staff",
                "X-Forwarded-Preferred-Username": "alice",
            },
        ),
        (
            "oauth2-proxy",
            True,
            {
                "X-Forwarded-User": "alice-sub",
                "X-Forwarded-Email": "alice@corp.example",
                "X-Forwarded-Groups": "admins,hr-staff",
                "X-Forwarded-Preferred-Username": "alice",
                "X-Auth-Request-User": "alice-sub",
                "X-Auth-Request-Email": "alice@corp.example",
                "X-Auth-Request-Groups": "admins,hr-staff",
                "X-Auth-Request-Preferred-Username": "alice",
            },
        ),
        (
            "authelia",
            False,
            {
                "Remote-User": "alice",
                "Remote-Groups": "admins,hr-staff",
                "Remote-Name": "Alice Admin",
                "Remote-Email": "alice@corp.example",
            },
        ),
        (
            "pomerium",
            False,
            {
                "X-Pomerium-Claim-User": "alice-sub",
                "X-Pomerium-Claim-Email": "alice@corp.example",
                "X-Pomerium-Claim-Groups": "admins,hr-staff",
                "X-Pomerium-Claim-Name": "Alice Admin",
                "X-Pomerium-Jwt-Assertion": ASSERTION,
            },
        ),
        (
            "iap",
            True,
            {
                "X-Goog-Authenticated-User-Email": "accounts.google.com:alice@corp.example",
                "X-Goog-Authenticated-User-Id": "accounts.google.com:alice-sub",
                "X-Goog-Iap-Jwt-Assertion": ASSERTION,
            },
        ),
    ],
)
def test_each_preset_sends_the_tools_names_and_formats(preset: str, forward_auth: bool, want: dict[str, str]) -> None:
    assert sent({"preset": preset}, forward_auth=forward_auth) == want
    assert sent({}, preset, forward_auth=forward_auth) == want  # the top-level default


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_name_is_stripped_from_clients(preset: str) -> None:
    templates = compile_route_headers(IdentityHeaders(preset=preset), None)  # type: ignore[arg-type]
    assert templates.names
    for name in templates.names:
        for spelling in (name, name.lower(), name.replace("-", "_"), name.replace("-", ".")):
            assert IDENTITY.matches(spelling), spelling


def test_a_missing_value_omits_the_header() -> None:
    templates = compile_route_headers(IdentityHeaders(preset="authelia"), None)
    pairs = dict(identity_headers(bob_contractor, templates, assertion=None, access_token=None))
    assert "Remote-Name" not in pairs and "Remote-User" not in pairs  # no name, no username
    assert pairs["Remote-Email"] == "bob@contractor.example"


@pytest.mark.parametrize(
    ("headers", "default", "want"),
    [
        # The route's preset wins over the top level.
        ({"preset": "iap"}, "authelia", {"X-Goog-Authenticated-User-Email", "X-Goog-Authenticated-User-Id", "X-Goog-Iap-Jwt-Assertion"}),
        # `none` turns the top-level preset off; the route's templates stay.
        ({"preset": "none", "X-Team": "{claims.org.unit}"}, "authelia", {"X-Team"}),
        # A template extends the preset.
        ({"X-Team": "{claims.org.unit}"}, "authelia", {"Remote-User", "Remote-Groups", "Remote-Name", "Remote-Email", "X-Team"}),
    ],
)
def test_route_headers_extend_override_or_turn_off(headers: dict[str, Any], default: str, want: set[str]) -> None:
    assert set(sent(headers, default)) == want


@pytest.mark.parametrize("spelling", ["Remote-User", "remote-user", "REMOTE-USER"])
def test_a_route_template_replaces_the_preset_header_of_that_name(spelling: str) -> None:
    got = sent({spelling: "{email}"}, "authelia")
    assert [v for n, v in got.items() if n.lower() == "remote-user"] == ["alice@corp.example"]


def test_a_route_template_can_replace_the_preset_assertion_header() -> None:
    got = sent({"X-Goog-Iap-Jwt-Assertion": "{claims.employee_id}"}, "iap")
    assert got["X-Goog-Iap-Jwt-Assertion"] == "4711"


def test_groups_headers_of_a_preset_are_dropped_first_over_the_budget() -> None:
    config = IdentityHeaders(preset="oauth2-proxy", max_bytes=512)
    templates = compile_route_headers(config, None)
    budget = HeaderBudget.build(config, PolicyConfig(), templates)
    many = alice_admin.__class__(**{**_fields(alice_admin), "groups": tuple(f"g{i:03}" for i in range(200))})
    pairs = identity_headers(many, templates, assertion=None, access_token=None, forward_auth=True)
    _, dropped = budget.fit(pairs)
    assert {"X-Forwarded-Groups", "X-Auth-Request-Groups", "X-Authgate-Groups"} <= set(dropped)


def _fields(identity: Any) -> dict[str, Any]:
    return {name: getattr(identity, name) for name in identity.__slots__}


@pytest.mark.parametrize("value", ["oauth2_proxy", "Authelia", "keycloak", ""])
def test_an_unknown_preset_is_a_config_error(value: str) -> None:
    with pytest.raises(ValidationError, match="preset"):
        IdentityHeaders(preset=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="preset"):
        GatewayHeaders(preset=value)  # type: ignore[arg-type]


def test_preset_is_an_option_not_a_template() -> None:
    config = IdentityHeaders(**{"preset": "iap", "X-Team": "{name}"})
    assert config.templates == {"X-Team": "{name}"}
