"""Geo and risk through a real gateway: trusted client IPs only, score and signals logged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider, login_at_provider

CITY_DB = Path(__file__).parents[1] / "geo" / "data" / "maxmind" / "GeoLite2-City-Test.mmdb"
LONDON = "81.2.69.142"  # GB, London in MaxMind's test database
BAD_NETWORK = "203.0.113.7"


def adaptive_config(
    provider: OIDCProvider, upstream: str, tmp: Path, *, trusted: bool
) -> dict[str, Any]:
    config = login_config(
        provider,
        upstream,
        tmp / "keys.pem",
        route={"adaptive": {"step_up_at": 40, "deny_at": 90, "reputation": ["203.0.113.0/24"]}},
    )
    config["geoip"] = {"city": str(CITY_DB)}
    config["server"] = {"trusted_proxies": ["127.0.0.0/8"] if trusted else []}
    return config


async def signed_in(client: aiohttp.ClientSession, gateway: Gateway) -> None:
    callback = await login_at_provider(
        client, f"{gateway.url}/.authgate/start?rd=/", "alice", "alice-password"
    )
    async with client.get(callback, allow_redirects=False) as r:
        assert r.status == 302


async def test_spoofed_forwarded_for_changes_neither_geo_nor_risk(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    results = {}
    for trusted in (False, True):
        gateway = gateway_factory(adaptive_config(oidc_provider, upstream, tmp_path, trusted=trusted))
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            await signed_in(client, gateway)
            headers = {"Accept": "application/json"}
            async with client.get(f"{gateway.url}/public/p", headers={**headers, "X-Forwarded-For": LONDON}) as r:
                assert r.status == 200
            async with client.get(f"{gateway.url}/app", headers={**headers, "X-Forwarded-For": BAD_NETWORK}) as r:
                status = r.status
        records = gateway.decisions(4)
        public = next(r for r in records if r["path"] == "/public/p")
        app = next(r for r in records if r["path"] == "/app")
        results[trusted] = (public["country"], status, app["decision"], app["risk"], app["signals"])
    # From an untrusted peer the header is ignored: no country, no reputation signal.
    assert results[False] == (None, 200, "allow", 0, [])
    # Through a trusted proxy the same headers count.
    assert results[True][0] == "GB"
    assert results[True][1:] == (401, "step_up", 50, ["ip-reputation"])


async def test_a_successful_step_up_clears_the_signals_for_that_session(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    gateway = gateway_factory(adaptive_config(oidc_provider, upstream, tmp_path, trusted=True))
    browser = {"Accept": "text/html", "X-Forwarded-For": BAD_NETWORK}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await signed_in(client, gateway)
        async with client.get(f"{gateway.url}/app", headers=browser, allow_redirects=False) as r:
            assert r.status == 302 and "step_up=1" in r.headers["Location"]
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        async with client.get(callback, headers=browser, allow_redirects=False) as r:
            assert r.status == 302
        async with client.get(f"{gateway.url}/app", headers={**browser, "Accept": "application/json"}) as r:
            assert r.status == 200
    last = gateway.decisions(6)[-1]
    assert (last["decision"], last["signals"]) == ("allow", [])


async def test_login_issues_a_known_device_cookie_that_counts_as_the_device(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = adaptive_config(oidc_provider, upstream, tmp_path, trusted=False)
    config["devices"] = {"known_device_cookie": {"name": "authgate-device", "max_age": "30d"}}
    gateway = gateway_factory(config)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        await signed_in(client, gateway)
        device = {c.key: c for c in jar}.get("authgate-device")
        assert device is not None and device["httponly"]
        async with client.get(f"{gateway.url}/app", headers={"Accept": "application/json"}) as r:
            assert r.status == 200
    record = gateway.decisions(4)[-1]
    assert record["device"] is not None and record["device"].startswith("cookie:")


async def test_mtls_device_on_the_gateway_listener(
    echo_upstream: TestServer, gateway_factory: Callable[..., Gateway], tmp_path: Path
) -> None:
    import ssl

    import trustme

    server_ca, device_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    server_cert = server_ca.issue_cert("127.0.0.1")
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "tls.crt"))
    server_cert.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    device_ca.cert_pem.write_to_path(str(tmp_path / "devices-ca.pem"))
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    gateway = gateway_factory(
        {
            "server": {"tls": {"cert": str(tmp_path / "tls.crt"), "key": str(tmp_path / "tls.key")}},
            "devices": {"mtls": {"client_ca": str(tmp_path / "devices-ca.pem"), "mode": "optional"}},
            "routes": [{"id": "app", "match": {"host": "127.0.0.1"}, "upstream": upstream, "public": ["/**"]}],
        }
    )

    def context(issuer: trustme.CA | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        server_ca.configure_trust(ctx)
        if issuer is not None:
            issuer.issue_cert("laptop-42.devices.example").configure_cert(ctx)
        return ctx

    url = f"https://127.0.0.1:{gateway.port}/x"
    async with aiohttp.ClientSession() as client:
        async with client.get(url, ssl=context(device_ca)) as r:
            assert r.status == 200
        async with client.get(url, ssl=context(None)) as r:
            assert r.status == 200  # optional: no certificate, no device
        try:
            async with client.get(url, ssl=context(other_ca)) as r:
                raise AssertionError(f"a certificate from another CA was accepted: {r.status}")
        except aiohttp.ClientError:
            pass
    devices = [r["device"] for r in gateway.decisions(2)]
    assert devices[0] is not None and devices[0].startswith("mtls:") and devices[1] is None
