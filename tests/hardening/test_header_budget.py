"""A user in many groups: the route shows only the groups it names, and a size budget
drops the groups header rather than send a head the upstream refuses.

End to end: a real login at the OpenID Provider for a user in 150 groups, the echo
upstream reporting the headers it received, the assertion verified with the gateway's
published keys, and the decision record naming what was dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from authgate.upstream import AssertionVerifier
from tests.login.test_login_flow import log_in
from tests.proxy.helpers import header_values
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import DEFAULT_USERS, OIDCProvider, running_oidc_provider

MANY = [f"team-engineering-platform-{i:03d}" for i in range(150)]
CAROL_GROUPS = ["app-payroll", *MANY, "hr-staff", "app-portal"]
API = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    carol = {
        "password": "carol-password",
        "claims": {
            "email": "carol@example.com",
            "email_verified": True,
            "preferred_username": "carol",
            "groups": CAROL_GROUPS,
        },
    }
    with running_oidc_provider(users={**DEFAULT_USERS, "carol": carol}) as op:
        yield op


@pytest.fixture
def gateway_for(
    provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Callable[..., Gateway]:
    def make(**route: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        return gateway_factory(login_config(provider, upstream, tmp_path / "keys.pem", route=route))

    return make


async def upstream_view(gateway: Gateway) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Log carol in, make one request; the echo, the verified assertion, its record."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        landing = await log_in(client, gateway, "/reports", user="carol")
        async with client.get(landing, headers=API) as response:
            assert response.status == 200, await response.text()
            echo = await response.json()
            request_id = response.headers["X-Request-Id"]
    (assertion,) = header_values(echo, "X-Authgate-Assertion")
    verifier = AssertionVerifier(f"{gateway.url}/.authgate/jwks.json", audience="app")
    claims = await verifier.verify(assertion)
    record = next(r for r in gateway.decisions(6) if r["request_id"] == request_id)
    return echo, claims, record


async def test_only_the_policy_groups_and_a_pattern_are_shown(
    gateway_for: Callable[..., Gateway],
) -> None:
    gateway = gateway_for(
        policy={"allow": [{"groups": ["hr-staff", "auditors"]}]},
        headers={"groups": {"only": "policy", "match": "^app-"}},
    )
    echo, claims, record = await upstream_view(gateway)
    assert header_values(echo, "X-Authgate-Groups") == ["app-payroll,hr-staff,app-portal"]
    assert claims["groups"] == CAROL_GROUPS  # the signed assertion keeps every group
    assert record["headers_dropped"] == [] and record["decision"] == "allow"


async def test_an_explicit_list_filters_templates_too(gateway_for: Callable[..., Gateway]) -> None:
    gateway = gateway_for(
        headers={"groups": {"only": ["hr-staff", "nobody"]}, "X-Teams": "teams={groups}"}
    )
    echo, claims, _ = await upstream_view(gateway)
    assert header_values(echo, "X-Authgate-Groups") == ["hr-staff"]
    assert header_values(echo, "X-Teams") == ["teams=hr-staff"]
    assert claims["groups"] == CAROL_GROUPS


async def test_over_the_budget_the_groups_header_is_dropped_and_recorded(
    gateway_for: Callable[..., Gateway],
) -> None:
    # 150 groups: ~4.7 KB of X-Authgate-Groups plus ~7 KB of assertion, over the
    # default 8 KiB budget; without the groups header the rest fits.
    gateway = gateway_for(headers={"X-Teams": "{groups}", "X-Mail": "{email}"})
    echo, claims, record = await upstream_view(gateway)
    assert header_values(echo, "X-Authgate-Groups") == []
    assert header_values(echo, "X-Teams") == []
    assert header_values(echo, "X-Authgate-User") == ["carol"]
    assert header_values(echo, "X-Mail") == ["carol@example.com"]
    assert claims["groups"] == CAROL_GROUPS
    assert record["headers_dropped"] == ["X-Authgate-Groups", "X-Teams"]
    assert (record["decision"], record["status"]) == ("allow", 200)


async def test_under_a_larger_budget_every_group_is_sent(gateway_for: Callable[..., Gateway]) -> None:
    # The control: the same user and upstream, a budget the block fits in.
    gateway = gateway_for(headers={"max_bytes": 65536})
    echo, _, record = await upstream_view(gateway)
    assert header_values(echo, "X-Authgate-Groups") == [",".join(CAROL_GROUPS)]
    assert record["headers_dropped"] == []
