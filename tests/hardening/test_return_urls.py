"""Return URLs: same scheme, host and port as the user came in on, or a listed port.

End to end against the real gateway and the real OpenID Provider: each case starts a
login at `/.authgate/start?rd=<candidate>`, signs in at the provider and reads where
the callback sends the browser. An unsafe candidate lands on the root of the host the
user came to, and the `start` request's decision record says `return_url_rejected`.
Routes: `app` on 127.0.0.1; `other` on localhost, which lists `return_ports: [L]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.hardening.signin import login_gateway_at, record_for
from tests.login.test_login_flow import BROWSER
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider, login_at_provider
from tests.testbed.ports import free_port


@dataclass(frozen=True)
class Bed:
    gateway: Gateway
    listed: int  # in `return_ports` of the route for localhost
    unlisted: int  # nobody's

    def fill(self, template: str) -> str:
        return template.format(port=self.gateway.port, listed=self.listed, unlisted=self.unlisted)


@pytest.fixture(scope="module")
def bed(oidc_provider: OIDCProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    listed, unlisted = free_port(), free_port()
    other = {"id": "other", "match": {"host": "localhost"}, "return_ports": [listed]}
    gateway = login_gateway_at(oidc_provider, tmp_path_factory.mktemp("return-urls"), [other])
    yield Bed(gateway, listed, unlisted)
    gateway.stop()


# `{port}` is the gateway's own port, `{listed}` the one route `other` lists.
KEPT = [
    pytest.param("http://127.0.0.1:{port}/x?y=1", id="same-origin"),
    pytest.param("HTTP://127.0.0.1:{port}/x?y=1", id="same-origin-case"),
    pytest.param("http://localhost:{port}/y", id="other-routed-host-same-port"),
    pytest.param("http://localhost:{listed}/y", id="listed-port"),
]
REFUSED = [
    pytest.param("http://127.0.0.1/x?y=1", id="absent-port-is-80"),
    pytest.param("http://127.0.0.1:80/x?y=1", id="port-80"),
    pytest.param("http://127.0.0.1:{unlisted}/x?y=1", id="other-port"),
    pytest.param("http://127.0.0.1:{listed}/x?y=1", id="port-listed-by-another-route"),
    pytest.param("http://localhost:{unlisted}/y", id="unlisted-port-on-other-route"),
    pytest.param("http://localhost/y", id="absent-port-on-other-route"),
    pytest.param("https://127.0.0.1:{port}/x?y=1", id="other-scheme"),
    pytest.param("http://127.0.0.1:{port}@evil.example:{port}/", id="userinfo"),
    pytest.param("http://evil.example:{port}/", id="unrouted-host"),
    pytest.param("//127.0.0.1:{unlisted}/x", id="protocol-relative"),
]


async def land_after_login(bed: Bed, rd: str) -> tuple[str, dict[str, object]]:
    """Where the callback sends the browser, and the record of the `start` request."""
    gateway = bed.gateway
    start = f"{gateway.url}/.authgate/start?{urlencode({'rd': rd})}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(start, headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            to_provider, request_id = r.headers["Location"], r.headers["X-Request-Id"]
        callback = await login_at_provider(client, to_provider, "alice", "alice-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            landing = r.headers["Location"]
    return landing, record_for(gateway, request_id)


@pytest.mark.parametrize("template", KEPT)
async def test_a_return_url_on_the_routes_own_origin_is_kept(bed: Bed, template: str) -> None:
    rd = bed.fill(template)
    landing, record = await land_after_login(bed, rd)
    assert landing == rd.replace("HTTP://", "http://")
    assert (record["reason"], record["return_url_rejected"]) == ("login-started", False)


@pytest.mark.parametrize("template", REFUSED)
async def test_a_return_url_on_another_origin_lands_on_the_root(bed: Bed, template: str) -> None:
    landing, record = await land_after_login(bed, bed.fill(template))
    assert landing == f"{bed.gateway.url}/"
    assert (record["reason"], record["return_url_rejected"]) == ("login-started", True)
    assert record["path"] == "/.authgate/start"


async def test_no_return_url_is_not_a_refusal(bed: Bed) -> None:
    gateway = bed.gateway
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/.authgate/start", allow_redirects=False) as r:
            assert r.status == 302
            record = record_for(gateway, r.headers["X-Request-Id"])
    assert record["return_url_rejected"] is False


async def test_a_protected_url_on_a_non_default_port_round_trips(bed: Bed) -> None:
    """The gateway's own login redirect carries the port the user came in on."""
    gateway = bed.gateway
    wanted = f"{gateway.url}/reports/q3?year=2026"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(wanted, headers=BROWSER, allow_redirects=False) as r:
            start = r.headers["Location"]
        callback = await login_at_provider(client, f"{gateway.url}{start}", "alice", "alice-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.headers["Location"] == wanted
