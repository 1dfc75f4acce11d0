"""The agent keys of a route: their mistakes named by file, line and key; where each
route's RFC 9728 metadata lives and what it says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from authgate.config.errors import ConfigError
from authgate.config.loader import load_config
from authgate.config.snapshot import build_snapshot
from authgate.resource.identifier import WELL_KNOWN, metadata_url, resource_of, route_for
from authgate.resource.metadata import document

FILES = Path(__file__).parent / "files"


def problems(name: str, *, snapshot: bool = False) -> list[str]:
    path = str(FILES / name)
    with pytest.raises(ConfigError) as caught:
        build_snapshot(path, {}) if snapshot else load_config(path, {})
    return [str(problem).replace(path, "F", 1) for problem in caught.value.problems]


def test_every_mistake_of_the_agent_keys_is_named() -> None:
    assert problems("bad_agents.yaml") == [
        "F:10 routes[0].bearer.resource: write scheme://host[:port][/path]: no query or fragment",
        "F:11 routes[0].bearer.dpop: must be 'off', 'allowed' or 'required', got 'sometimes'",
        "F:12 routes[0].bearer.dpop_algorithms: not allowed for DPoP proofs: ['HS256', 'none'] "
        "(allowed: ['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'])",
        "F:15 routes[0].policy.allow[0].scopes[0]: not an OAuth scope: 'mcp tools' "
        "(RFC 6749 §3.3: no spaces, quotes or backslashes)",
    ]


def test_nonces_need_a_secret() -> None:
    assert problems("nonce_without_secret.yaml", snapshot=True) == [
        "F:7 routes[0].bearer.dpop_nonce: DPoP nonces need secrets.cookie_secret"
    ]


@pytest.mark.parametrize(
    ("host", "path", "route", "resource", "metadata"),
    [
        ("a.test", WELL_KNOWN + "/api", "api", "https://a.test/api", f"https://a.test{WELL_KNOWN}/api"),
        ("a.test", WELL_KNOWN + "/api/", "api", "https://a.test/api", f"https://a.test{WELL_KNOWN}/api"),
        ("a.test", WELL_KNOWN, "root", "https://a.test", f"https://a.test{WELL_KNOWN}"),
        ("b.test", WELL_KNOWN + "/tools/v1", "named", "https://b.test/tools/v1", f"https://b.test{WELL_KNOWN}/tools/v1"),
        ("b.test", WELL_KNOWN + "/mcp", None, None, None),  # the prefix is not the resource
        ("a.test", WELL_KNOWN + "/api/deeper", None, None, None),  # §3.3: only its own URL
        ("c.test", WELL_KNOWN, None, None, None),  # no bearer route there
        ("other.test", WELL_KNOWN, None, None, None),
    ],
)
def test_where_each_resource_is_described(
    host: str, path: str, route: str | None, resource: str | None, metadata: str | None
) -> None:
    routes = build_snapshot(str(FILES / "resources.yaml"), {}).routes
    found = route_for(routes.routes, host, path)
    assert (found.id if found else None) == route
    if found is not None:
        assert resource_of(found, "https", host) == resource
        assert metadata_url(found, "https", host) == metadata


def test_a_route_with_dpop_off_says_nothing_of_dpop() -> None:
    routes = build_snapshot(str(FILES / "resources.yaml"), {}).routes
    body = asyncio.run(document(routes.by_id("api"), "https://a.test/api", {}, ("read",), mtls=False))
    assert body == {
        "resource": "https://a.test/api",
        "authorization_servers": [],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["read"],
    }
