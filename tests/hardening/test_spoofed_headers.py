"""Spoofable client headers never reach an upstream, in any spelling (raw sockets).

Identity headers of other gateways and apps, forwarding headers and URL/method
overrides: each is sent in every spelling a server folds into one name (case, `-`,
`_`, `.`), and the test asserts on what the echo upstream received and on the
decision record's `stripped`. Opted-in overrides are evaluated as what they override.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from authgate.mutate.encoding import normalize_name
from tests.hardening._headers_bed import (
    api_config,
    echo_gateway,
    echo_of,
    names_received,
    received,
    rogue_issuer,
    send,
    token,
    upstream_of,
)
from tests.mutate.test_spoofed import FORWARDING_NAMES, IDENTITY_NAMES, OVERRIDE_NAMES, spellings
from tests.oidc.rogue import RogueProvider
from tests.proxy.helpers import echoed
from tests.testbed.gateway import Gateway

__all__ = ["echo_gateway", "rogue_issuer"]  # fixtures, used by name

OPERATOR_NAMES = ["X-Corp-User", "X-Corp-Auth-Level", "x_corp_auth_groups"]


def sent_spellings(name: str, value: str) -> list[tuple[str, str]]:
    return [(spelling, value) for spelling in spellings(name)]


def as_stripped(headers: list[tuple[str, str]]) -> list[str]:
    return sorted({name.lower() for name, _ in headers})


def folds_to(echo: dict[str, Any], name: str) -> list[str]:
    return [n for n in names_received(echo) if normalize_name(n) == normalize_name(name)]


async def test_identity_headers_are_stripped_in_every_spelling_on_a_public_route(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway(server={"strip_headers": ["X-Corp-User", "X-Corp-Auth-*"]})
    names = IDENTITY_NAMES + OPERATOR_NAMES
    for name in names:
        spoofed = sent_spellings(name, "admin@corp.test")
        echo = await echo_of(gateway, "/anything", [*spoofed, ("X-Keep-Me", "1")])
        assert folds_to(echo, name) == [], name
        assert ("X-Keep-Me", "1") in received(echo)
    records = gateway.decisions(len(names))
    assert len(records) == len(names)
    for name, record in zip(names, records, strict=True):
        assert record["decision"] == "allow"
        assert record["stripped"] == as_stripped(sent_spellings(name, "")), name


async def test_all_of_them_at_once(echo_gateway: Callable[..., Gateway]) -> None:
    gateway = echo_gateway()
    # Two spellings each keeps the request under aiohttp's 100-header limit.
    odd = [(name.replace("-", "_"), "root") for name in IDENTITY_NAMES]
    spoofed = odd + [(name.replace("-", ".").lower(), "root") for name in IDENTITY_NAMES]
    echo = await echo_of(gateway, "/", spoofed)
    gateway_own = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"}
    leaked = {n for n in names_received(echo) if any(normalize_name(n) == normalize_name(s) for s, _ in spoofed)}
    assert leaked == set()
    assert gateway_own <= names_received(echo)
    assert gateway.decisions(1)[0]["stripped"] == as_stripped(spoofed)


def forwarding_spoofs(names: list[str]) -> list[tuple[str, str]]:
    values = {
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Host": "evil.test",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "1",
        "X-Forwarded-Prefix": "/evil",
        "X-Real-IP": "6.6.6.6",
        "Forwarded": "for=6.6.6.6;proto=https",
        "X-Request-Id": "forged-request-id",
    }
    return [pair for name in names for pair in sent_spellings(name, values[name])]


async def test_forwarding_headers_from_an_untrusted_peer_are_rebuilt_in_every_spelling(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway()
    spoofed = forwarding_spoofs(FORWARDING_NAMES)
    echo = await echo_of(gateway, "/f", spoofed)
    forwarding = [
        (name, value)
        for name, value in received(echo)
        if any(normalize_name(name) == normalize_name(f) for f in FORWARDING_NAMES)
    ]
    assert sorted(forwarding) == sorted(
        [
            ("X-Forwarded-For", "127.0.0.1"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "echo.test"),
            ("X-Forwarded-Port", str(gateway.port)),
            ("Forwarded", "for=127.0.0.1;host=echo.test;proto=http"),
            ("X-Request-Id", gateway.decisions(1)[0]["request_id"]),
        ]
    )
    record = gateway.decisions(1)[0]
    assert record["client_ip"] == "127.0.0.1"
    assert record["stripped"] == as_stripped(spoofed)


async def test_a_trusted_proxy_passes_the_canonical_spellings_only(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway(server={"trusted_proxies": ["127.0.0.0/8"]})
    canonical = [
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Port", "8443"),
        ("X-Forwarded-Prefix", "/app"),
    ]
    variants = [
        (spelling, value)
        for name, value in [*canonical, ("X-Forwarded-Host", "evil.test")]
        for spelling in spellings(name)
        if "_" in spelling or "." in spelling
    ]
    real_ip = [("X-Real-IP", "6.6.6.6")]
    echo = await echo_of(gateway, "/t", [*canonical, *variants, *real_ip])
    got = received(echo)
    assert ("X-Forwarded-For", "203.0.113.9, 127.0.0.1") in got
    assert ("X-Forwarded-Proto", "https") in got
    assert ("X-Forwarded-Port", "8443") in got
    assert ("X-Forwarded-Prefix", "/app") in got
    assert [n for n, _ in got if "_" in n or "." in n] == []
    assert "x-real-ip" not in names_received(echo)
    record = gateway.decisions(1)[0]
    assert record["client_ip"] == "203.0.113.9"
    assert record["stripped"] == as_stripped(variants + real_ip)


@pytest.mark.parametrize(
    ("spelling", "value"),
    [("X_Forwarded_For", "203.0.113.9"), ("X.Forwarded.For", "203.0.113.9"), ("X_Forwarded_Proto", "https")],
)
async def test_client_ip_and_scheme_read_the_canonical_spelling_only(
    echo_gateway: Callable[..., Gateway], spelling: str, value: str
) -> None:
    gateway = echo_gateway(server={"trusted_proxies": ["127.0.0.0/8"]})
    echo = await echo_of(gateway, "/t", [(spelling, value)])
    got = received(echo)
    assert ("X-Forwarded-For", "127.0.0.1") in got
    assert ("X-Forwarded-Proto", "http") in got
    assert gateway.decisions(1)[0]["client_ip"] == "127.0.0.1"


async def test_port_and_prefix_from_an_untrusted_peer_never_pass(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway()
    echo = await echo_of(gateway, "/p", [("X-Forwarded-Port", "443"), ("X-Forwarded-Prefix", "/admin")])
    got = received(echo)
    assert [v for n, v in got if n.lower() == "x-forwarded-port"] == [str(gateway.port)]
    assert "x-forwarded-prefix" not in names_received(echo)


# --- URL and method overrides -------------------------------------------------------


async def test_override_headers_never_reach_the_upstream_by_default(
    echo_gateway: Callable[..., Gateway],
) -> None:
    gateway = echo_gateway()
    for name in OVERRIDE_NAMES:
        value = "DELETE" if "Method" in name else "/admin"
        echo = await echo_of(gateway, "/public/page", sent_spellings(name, value))
        assert folds_to(echo, name) == [], name
        assert (echo["method"], echo["raw_target"]) == ("GET", "/public/page")
    records = gateway.decisions(len(OVERRIDE_NAMES))
    for name, record in zip(OVERRIDE_NAMES, records, strict=True):
        assert record["stripped"] == as_stripped(sent_spellings(name, "")), name
        assert (record["method"], record["path"]) == ("GET", "/public/page")


@pytest.fixture
def method_override_gateway(echo_gateway: Callable[..., Gateway]) -> Gateway:
    """A public route that serves GET and HEAD only and lets X-HTTP-Method-Override through."""
    return echo_gateway(
        match={"host": "echo.test", "methods": ["GET", "HEAD"]},
        forward_overrides=["X-HTTP-Method-Override"],
    )


@pytest.mark.parametrize("value", ["DELETE", "delete", "POST", "PUT"])
async def test_an_opted_in_method_override_is_what_routing_and_policy_judge(
    method_override_gateway: Gateway, value: str
) -> None:
    status, _, body = await send(
        method_override_gateway, "/items/1", [("X-HTTP-Method-Override", value)]
    )
    assert status == 405, body
    record = method_override_gateway.decisions(1)[0]
    assert (record["method"], record["reason"]) == (value.upper(), "method-not-allowed")
    assert record["upstream_status"] is None  # the upstream never saw it


async def test_an_allowed_override_is_forwarded_as_evaluated(method_override_gateway: Gateway) -> None:
    echo = await echo_of(
        method_override_gateway,
        "/items/1",
        [("x-http-method-override", "head"), ("X_HTTP_Method_Override", "DELETE")],
    )
    overrides = [(n.lower(), v) for n, v in received(echo) if normalize_name(n) == "x-http-method-override"]
    assert overrides == [("x-http-method-override", "HEAD")]
    record = method_override_gateway.decisions(1)[0]
    assert (record["method"], record["decision"]) == ("HEAD", "allow")
    assert record["stripped"] == ["x_http_method_override"]  # read by nobody


@pytest.mark.parametrize(
    "headers",
    [
        [("X-HTTP-Method-Override", "DELETE"), ("X-HTTP-Method-Override", "GET")],
        [("X-HTTP-Method-Override", "GET HTTP/1.1")],
        [("X-HTTP-Method-Override", "")],
    ],
    ids=["two-values", "not-a-token", "empty"],
)
async def test_an_ambiguous_override_is_refused(
    method_override_gateway: Gateway, headers: list[tuple[str, str]]
) -> None:
    status, _, _ = await send(method_override_gateway, "/items/1", headers)
    assert status == 400
    assert method_override_gateway.decisions(1)[0]["reason"] == "override-invalid"


async def test_an_override_may_not_lead_to_another_route(
    echo_upstream: TestServer, gateway_factory: Callable[..., Gateway]
) -> None:
    upstream = upstream_of(echo_upstream)
    gateway = gateway_factory(
        {
            "routes": [
                {
                    "id": "read",
                    "match": {"host": "echo.test", "methods": ["GET"]},
                    "upstream": upstream,
                    "public": ["/**"],
                    "forward_overrides": ["X-HTTP-Method-Override"],
                },
                {
                    "id": "write",
                    "match": {"host": "echo.test", "methods": ["DELETE"]},
                    "upstream": upstream,
                    "public": ["/**"],
                },
            ]
        }
    )
    status, _, _ = await send(gateway, "/items/1", [("X-HTTP-Method-Override", "DELETE")])
    assert status == 400
    record = gateway.decisions(1)[0]
    assert (record["route"], record["reason"]) == ("read", "override-invalid")


@pytest.fixture
def override_api(
    rogue_issuer: RogueProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Gateway:
    """A bearer route, public below /public/, where writes are denied by policy."""
    return gateway_factory(
        api_config(
            rogue_issuer,
            echo_upstream,
            str(tmp_path / "keys.pem"),
            public=["/public/**"],
            forward_overrides=["X-Original-URL", "X-HTTP-Method-Override"],
            policy={
                "allow": [{"groups": ["orders-admin"]}],
                "deny": [{"not": {"method": ["GET", "HEAD"]}}],
            },
        )
    )


@pytest.mark.parametrize("url", ["/admin", "/public/../admin", "/PUBLIC/x", "//admin?x=1"])
async def test_a_url_override_off_the_public_paths_needs_a_login(override_api: Gateway, url: str) -> None:
    status, _, _ = await send(override_api, "/public/x", [("X-Original-URL", url)], host="api.test")
    assert status == 401
    record = override_api.decisions(1)[0]
    assert record["decision"] == "login" and record["upstream_status"] is None


async def test_a_url_override_is_forwarded_as_evaluated(override_api: Gateway) -> None:
    echo = await echo_of(
        override_api, "/public/x", [("X-Original-URL", "/public/a/../y?z=1")], host="api.test"
    )
    assert echo["raw_target"] == "/public/y?z=1"
    assert [v for n, v in received(echo) if n.lower() == "x-original-url"] == ["/public/y?z=1"]
    assert override_api.decisions(1)[0]["path"] == "/public/y"


@pytest.mark.parametrize("url", ["/admin%0a", "http://evil.test/admin", "admin", "/x?a b"])
async def test_an_unsafe_url_override_is_refused(override_api: Gateway, url: str) -> None:
    status, _, _ = await send(override_api, "/public/x", [("X-Original-URL", url)], host="api.test")
    assert status == 400
    assert override_api.decisions(1)[0]["reason"] == "override-invalid"


async def test_a_method_override_meets_the_policy(override_api: Gateway, rogue_issuer: RogueProvider) -> None:
    bearer = ("Authorization", f"Bearer {token(rogue_issuer)}")
    status, _, body = await send(override_api, "/orders/1", [bearer], host="api.test")
    assert status == 200 and echoed(body)["method"] == "GET"
    status, _, _ = await send(
        override_api, "/orders/1", [bearer, ("X-HTTP-Method-Override", "DELETE")], host="api.test"
    )
    assert status == 403
    record = override_api.decisions(2)[1]
    assert (record["method"], record["decision"], record["user"]) == ("DELETE", "deny", "billing-bot")
    assert record["upstream_status"] is None
