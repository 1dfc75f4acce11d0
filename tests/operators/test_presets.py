"""Migration presets end to end: a real login, then the headers an app migrated from
oauth2-proxy, Authelia, Pomerium or IAP reads — through proxy mode (what the echo
upstream received) and through forward-auth (what `/.authgate/auth` answers a proxy).

Every request also carries client-forged copies of every preset header, in several
spellings: the upstream must see the gateway's value once, never the client's.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from multidict import CIMultiDict

from aiohttp.test_utils import TestServer

from authgate.upstream import AssertionVerifier
from tests.login.test_login_flow import log_in
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.nginx import Nginx
from tests.testbed.oidc import DEFAULT_USERS, OIDCProvider, login_at_provider
from tests.testbed.ports import free_port

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
ALICE_SUB = "<sub>"  # replaced by the subject the assertion names
GROUPS = "hr-staff,admins"

# What each tool's app expects, for alice (tests/testbed/oidc.py), in both modes.
EXPECTED: dict[str, dict[str, str]] = {
    "oauth2-proxy": {
        "X-Forwarded-User": ALICE_SUB,
        "X-Forwarded-Email": "alice@example.com",
        "X-Forwarded-Groups": GROUPS,
        "X-Forwarded-Preferred-Username": "alice",
    },
    "authelia": {
        "Remote-User": "alice",
        "Remote-Groups": GROUPS,
        "Remote-Name": "Alice Archer",
        "Remote-Email": "alice@example.com",
    },
    "pomerium": {
        "X-Pomerium-Claim-User": ALICE_SUB,
        "X-Pomerium-Claim-Email": "alice@example.com",
        "X-Pomerium-Claim-Groups": GROUPS,
        "X-Pomerium-Claim-Name": "Alice Archer",
    },
    "iap": {
        "X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com",
        "X-Goog-Authenticated-User-Id": f"accounts.google.com:{ALICE_SUB}",
    },
}
# Sent only in a forward-auth answer (oauth2-proxy's set_xauthrequest, for auth_request).
FORWARD_ONLY: dict[str, dict[str, str]] = {
    "oauth2-proxy": {
        "X-Auth-Request-User": ALICE_SUB,
        "X-Auth-Request-Email": "alice@example.com",
        "X-Auth-Request-Groups": GROUPS,
        "X-Auth-Request-Preferred-Username": "alice",
    },
}
# The header that carries the signed assertion, where the tool sends one.
ASSERTION = {"pomerium": "X-Pomerium-Jwt-Assertion", "iap": "X-Goog-Iap-Jwt-Assertion"}

ALL_NAMES = sorted(
    {n for table in (EXPECTED, FORWARD_ONLY) for names in table.values() for n in names}
    | set(ASSERTION.values())
)


def forged() -> list[tuple[str, str]]:
    """Every preset header as a client forges it: canonical, lower-case and `_` spellings."""
    out: list[tuple[str, str]] = []
    for name in ALL_NAMES:
        out += [(name, "mallory"), (name.lower(), "mallory2"), (name.replace("-", "_"), "mallory3")]
    return out


def values(headers: list[tuple[str, str]] | CIMultiDict[str], name: str) -> list[str]:
    items = headers.items() if isinstance(headers, CIMultiDict) else headers
    return [v for k, v in items if k.lower() == name.lower()]


def expected(preset: str, subject: str, *, forward_auth: bool) -> dict[str, str]:
    table = {**EXPECTED[preset], **(FORWARD_ONLY.get(preset, {}) if forward_auth else {})}
    return {name: value.replace(ALICE_SUB, subject) for name, value in table.items()}


def assert_preset_headers(
    got: list[tuple[str, str]] | CIMultiDict[str], want: Mapping[str, str], preset: str
) -> None:
    for name, value in want.items():
        assert values(got, name) == [value], name
    names = {k.lower() for k, _ in (got.items() if isinstance(got, CIMultiDict) else got)}
    # Nothing forged survives, in any spelling, and no other preset leaks in.
    assert not any("_" in n for n in names), names
    others = {n.lower() for n in ALL_NAMES} - {n.lower() for n in want} - {ASSERTION.get(preset, "").lower()}
    assert not names & others, names & others
    assert not any(v.startswith("mallory") for _, v in (got.items() if isinstance(got, CIMultiDict) else got))


def traefik(gateway: Gateway, path: str) -> dict[str, str]:
    host = gateway.url.removeprefix("http://")
    return {"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http", "X-Forwarded-Host": host, "X-Forwarded-Uri": path}


def nginx(gateway: Gateway, path: str) -> dict[str, str]:
    return {"X-Original-URL": f"{gateway.url}{path}", "X-Original-Method": "GET"}


async def signed_in(gateway: Gateway) -> tuple[aiohttp.ClientSession, str]:
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    landing = await log_in(client, gateway, "/app")
    return client, landing


async def proxied(
    client: aiohttp.ClientSession, url: str, more: list[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """The headers the echo upstream received for `url`, sent with every forgery."""
    headers = CIMultiDict([*forged(), *(more or [])])
    headers["Accept"] = "application/json"
    async with client.get(url, headers=headers) as r:
        assert r.status == 200
        return [(k, v) for k, v in (await r.json())["headers"]]


async def subject_of(gateway: Gateway, assertion: str) -> str:
    verifier = AssertionVerifier(f"{gateway.url}/.authgate/jwks.json", audience="app")
    claims = await verifier.verify(assertion)
    return str(claims["sub"])


@pytest.fixture
def preset_gateway(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Callable[..., Gateway]:
    """`preset_gateway(top, **route)`: the login gateway with top-level `headers.preset`
    `top` (None: no `headers` section), route `app` updated with `route`, and
    127.0.0.1 trusted to call forward-auth."""

    def make(top: str | None, **route: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        config = login_config(oidc_provider, upstream, tmp_path / "assertion.pem", route=route)
        config["server"] = {"trusted_proxies": ["127.0.0.1/32"]}
        if top is not None:
            config["headers"] = {"preset": top}
        return gateway_factory(config)

    return make


@pytest.mark.parametrize("preset", sorted(EXPECTED))
async def test_preset_headers_in_proxy_mode_and_forward_auth(
    preset_gateway: Callable[..., Gateway], preset: str
) -> None:
    gateway = preset_gateway(preset)
    client, landing = await signed_in(gateway)
    async with client:
        got = await proxied(client, landing)
        (assertion,) = values(got, "X-Authgate-Assertion")
        subject = await subject_of(gateway, assertion)
        assert_preset_headers(got, expected(preset, subject, forward_auth=False), preset)
        if preset in ASSERTION:
            assert values(got, ASSERTION[preset]) == [assertion]
        for dialect in (traefik, nginx):
            ask = CIMultiDict(forged())
            ask.update({"Accept": "application/json", **dialect(gateway, "/app")})
            async with client.get(f"{gateway.url}/.authgate/auth", headers=ask, allow_redirects=False) as r:
                assert r.status == 200, await r.text()
                answer = CIMultiDict(r.headers)
            assert_preset_headers(answer, expected(preset, subject, forward_auth=True), preset)
            if preset in ASSERTION:
                (signed,) = values(answer, ASSERTION[preset])
                assert await subject_of(gateway, signed) == subject
    # The forged headers were stripped (and recorded so), not passed.
    (request_id,) = values(got, "X-Request-Id")
    stripped = set(gateway.record(request_id)["stripped"])
    assert {n.lower() for n in ALL_NAMES} | {n.lower().replace("-", "_") for n in ALL_NAMES} <= stripped




async def test_a_route_overrides_extends_or_turns_off_the_top_level_preset(
    preset_gateway: Callable[..., Gateway],
) -> None:
    # Top level oauth2-proxy; the route picks authelia, replaces one of its headers
    # (in another case) and adds a Pomerium-style claim header of its own.
    gateway = preset_gateway(
        "oauth2-proxy",
        headers={"preset": "authelia", "remote-name": "{claims.given_name}", "X-Pomerium-Claim-Family-Name": "{claims.family_name}"},
    )
    client, landing = await signed_in(gateway)
    async with client:
        got = await proxied(client, landing)
    want = {**EXPECTED["authelia"], "Remote-Name": "Alice", "X-Pomerium-Claim-Family-Name": "Archer"}
    for name, value in want.items():
        assert values(got, name) == [value], name
    assert values(got, "X-Forwarded-User") == []  # the top-level preset is replaced, not merged
    assert values(got, "X-Authgate-User") == ["alice"]  # the gateway's own set stays


async def test_preset_none_on_a_route_sends_no_preset_header_and_still_strips(
    preset_gateway: Callable[..., Gateway],
) -> None:
    gateway = preset_gateway("iap", headers={"preset": "none"})
    client, landing = await signed_in(gateway)
    async with client:
        got = await proxied(client, landing)
    names = {k.lower() for k, _ in got}
    assert not names & {n.lower() for n in ALL_NAMES}
    assert not any("_" in n for n in names)


# --- behind a real nginx, with the identity block written for the old gateway ----

FILES = Path(__file__).parent / "files"
# nginx config file -> (preset, what the app receives from nginx for alice)
NGINX_BLOCKS: dict[str, tuple[str, dict[str, str]]] = {
    "nginx-oauth2-proxy.conf": (
        "oauth2-proxy",
        {
            "X-User": ALICE_SUB,
            "X-Email": "alice@example.com",
            "X-Groups": GROUPS,
            "X-Auth-Request-Preferred-Username": "alice",
        },
    ),
    "nginx-authelia.conf": ("authelia", EXPECTED["authelia"]),
}


@pytest.mark.parametrize("recipe", sorted(NGINX_BLOCKS))
async def test_an_nginx_config_written_for_the_old_gateway_works_unchanged(
    preset_gateway: Callable[..., Gateway],
    echo_upstream: TestServer,
    nginx_factory: Callable[[str, int], Nginx],
    recipe: str,
) -> None:
    preset, want = NGINX_BLOCKS[recipe]
    gateway = preset_gateway(preset)
    port = free_port()
    text = (FILES / recipe).read_text()
    for key, value in {
        "LISTEN": f"127.0.0.1:{port}",
        "AUTHGATE": f"127.0.0.1:{gateway.port}",
        "APP": f"127.0.0.1:{echo_upstream.port}",
    }.items():
        text = text.replace("{{%s}}" % key, value)
    nginx = nginx_factory(text, port)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{nginx.url}/app", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            start = r.headers["Location"]
        callback = await login_at_provider(client, start, "alice", "alice-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            landing = r.headers["Location"]
        got = await proxied(client, landing, [(name, "mallory") for name in want])
    subject = DEFAULT_USERS["alice"]["claims"].get("sub", "alice")
    for name, value in want.items():
        assert values(got, name) == [value.replace(ALICE_SUB, subject)], name


async def test_a_reload_that_changes_the_top_level_preset_applies_it(
    preset_gateway: Callable[..., Gateway],
) -> None:
    gateway = preset_gateway("oauth2-proxy")
    client, landing = await signed_in(gateway)
    async with client:
        assert values(await proxied(client, landing), "X-Forwarded-Email") == ["alice@example.com"]
        config = yaml.safe_load(gateway.config_path.read_text())
        config["headers"] = {"preset": "iap"}
        gateway.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        gateway.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while True:  # the reload is applied in the background: poll, with a generous margin
            got = await proxied(client, landing)
            if values(got, "X-Goog-Authenticated-User-Email") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    assert values(got, "X-Goog-Authenticated-User-Email") == ["accounts.google.com:alice@example.com"]
    assert values(got, "X-Forwarded-Email") == []
