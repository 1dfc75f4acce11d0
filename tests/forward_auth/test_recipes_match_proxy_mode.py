"""The forward-auth recipes give the app what proxy mode gives it (issue 14).

Through the real nginx and Caddy running the recipes of docs/forward-auth.md, with a
real login: the app never sees the gateway's session or login cookie but keeps its
own cookies byte for byte, gets the same identity headers as in proxy mode, a
browser that is not signed in ends at the provider via the gateway's sign-in, and a
denied user sees the gateway's denied page (with the request id), not the proxy's
bare 403. Traefik is not installed here: its ForwardAuth contract (the headers it
sends, `authResponseHeaders`, the auth answer relayed for non-2xx) is replayed
against the endpoint directly.

The gateway has route `admin` (127.0.0.1, `/admin/`, group `admins`: alice yes,
bob no) before the `app` route of `forward_config`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from tests.forward_auth.conftest import RECIPES, Front, forward_config, start_front
from tests.forward_auth.test_behind_proxies import API, BROWSER, header, last_record, log_in
from tests.testbed.caddy import Caddy
from tests.testbed.gateway import Gateway
from tests.testbed.nginx import Nginx
from tests.testbed.oidc import OIDCProvider, login_at_provider

SESSION, LOGIN = "authgate", "authgate-login"  # the default names over http
# The app's own cookies, in awkward spellings: quoted with a comma, names that
# contain or extend the gateway's, a prefix variant of the gateway's own (stripped).
APP_COOKIES = ['theme="a,b"', "xauthgate=1", "authgate2=2", "app_sid=s%3Dx"]


@pytest.fixture
def admin_gateway(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Gateway:
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = forward_config(oidc_provider, upstream, tmp_path / "assertion.pem")
    # The authorization URL must show the redirect_uri the gateway built from the
    # proxy's forwarded host (asserted below); with PAR (the test bed advertises it)
    # that parameter would travel in the pushed request instead.
    config["providers"][0]["par"] = "off"
    admin = {
        "id": "admin",
        "match": {"host": "127.0.0.1", "path_prefix": "/admin/"},
        "upstream": upstream,
        "policy": {"allow": [{"groups": ["admins"]}]},
    }
    config["routes"].insert(0, admin)
    return gateway_factory(config)


@pytest.fixture(params=sorted(RECIPES))
def front(
    request: pytest.FixtureRequest,
    admin_gateway: Gateway,
    echo_upstream: TestServer,
    nginx_factory: Callable[[str, int], Nginx],
    caddy_factory: Callable[[str, int], Caddy],
) -> Front:
    return start_front(request.param, admin_gateway, echo_upstream, nginx_factory, caddy_factory)


def jar_cookie(client: aiohttp.ClientSession, name: str) -> str:
    values = [c.value for c in client.cookie_jar if c.key == name]
    assert values, [c.key for c in client.cookie_jar]
    return values[0]


async def echo_of(url: str, cookie_headers: list[str], **extra: str) -> tuple[int, dict[str, Any]]:
    headers: CIMultiDict[str] = CIMultiDict({**API, **extra})
    for value in cookie_headers:
        headers.add("Cookie", value)
    async with aiohttp.ClientSession() as plain:  # no jar: exactly these Cookie headers
        async with plain.get(url, headers=headers, allow_redirects=False) as r:
            return r.status, await r.json()


def identity_of(echo: dict[str, Any]) -> dict[str, list[str]]:
    """What the app got that the gateway decides: its namespace, route headers, cookies."""
    names = ("x-authgate-", "x-employee-name", "cookie", "x-forwarded-access-token")
    found: dict[str, list[str]] = {}
    for name, value in echo["headers"]:
        if name.lower().startswith(names) and name.lower() != "x-authgate-assertion":
            found.setdefault(name.lower(), []).append(value)
    return found


# (Cookie headers as the browser sends them, given the session value) -> the app's Cookie.
LAYOUTS = {
    "session-first": (lambda s: [f"{SESSION}={s}; " + "; ".join(APP_COOKIES)], "; ".join(APP_COOKIES)),
    "session-last-with-login": (
        lambda s: ["; ".join(APP_COOKIES) + f"; {LOGIN}=pending; {SESSION}={s}"],
        "; ".join(APP_COOKIES),
    ),
    "two-cookie-headers": (
        lambda s: [f"theme=dark; {SESSION}={s}", f"app_sid=1; __Host-{SESSION}=forged"],
        "theme=dark; app_sid=1",
    ),
    "only-the-gateways": (lambda s: [f"{SESSION}={s}; {LOGIN}=x"], None),
    "large-app-cookie": (lambda s: [f"big={'b' * 7000}; {SESSION}={s}"], f"big={'b' * 7000}"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
async def test_the_app_never_sees_the_gateways_cookies_and_keeps_its_own(front: Front, layout: str) -> None:
    make, expected = LAYOUTS[layout]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await log_in(client, front, "/reports")
        session = jar_cookie(client, SESSION)
    status, echo = await echo_of(f"{front.url}/reports", make(session))
    assert status == 200, echo
    assert header(echo, "Cookie") == ([expected] if expected else [])
    assert all(session not in value for _, value in echo["headers"])
    assert header(echo, "X-Authgate-User") == ["alice"]
    assert len(header(echo, "X-Authgate-Assertion")) == 1


async def test_the_app_gets_what_proxy_mode_gives_it(front: Front) -> None:
    # The same request, same session, once through the recipe and once through the
    # gateway as the proxy: the identity headers and the cookies are the same.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await log_in(client, front, "/reports")
        session = jar_cookie(client, SESSION)
    cookies = [f"theme=dark; {SESSION}={session}; app_sid=1"]
    _, through_recipe = await echo_of(f"{front.url}/reports", cookies)
    _, through_gateway = await echo_of(f"{front.gateway.url}/reports", cookies, Host="127.0.0.1")
    recipe, proxy = identity_of(through_recipe), identity_of(through_gateway)
    recipe.pop("x-request-id", None), proxy.pop("x-request-id", None)
    assert recipe == proxy
    assert proxy["cookie"] == ["theme=dark; app_sid=1"] and proxy["x-authgate-groups"]
    assert len(header(through_recipe, "X-Authgate-Assertion")) == 1


async def test_a_browser_not_signed_in_ends_at_the_provider_via_the_gateways_sign_in(
    front: Front, oidc_provider: OIDCProvider
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(f"{front.url}/reports", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            start = r.headers["Location"]
        assert start.startswith(f"{front.url}/.authgate/start?")
        async with client.get(start, headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            authorize = r.headers["Location"]
        assert authorize.startswith(oidc_provider.issuer)
        # The redirect URI (pushed to the provider with PAR, so not in this URL) is the
        # front's: the provider sends the browser back there.
        back = await login_at_provider(client, authorize, "alice", "alice-password", issuer=oidc_provider.issuer)
    assert back.startswith(f"http://127.0.0.1:{front.port}/.authgate/callback?")


async def test_a_denied_user_sees_the_gateways_denied_page(front: Front) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        await log_in(client, front, "/reports", user="bob")
        async with client.get(f"{front.url}/admin/users", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 403
            assert r.content_type == "text/html"
            page, page_id = await r.text(), r.headers["X-Request-Id"]
        async with client.get(f"{front.url}/admin/users", headers=API, allow_redirects=False) as r:
            assert r.status == 403
            document = await r.json()
        # A POST too (nginx fetches the page with GET, without the body).
        async with client.post(f"{front.url}/admin/users", data=b"x=1", headers=API) as r:
            assert r.status == 403
            assert (await r.json())["status"] == 403
    # The page names the refusal the auth call recorded (its request id, reason,
    # route and user), not the page fetch of its own.
    record = front.gateway.record(page_id)
    assert (record["decision"], record["path"], record["route"]) == ("deny", "/admin/users", "admin")
    assert record["user"] == "bob"
    # Loose on markup: the page's template is the pages' business (docs/pages.md).
    assert "Access denied" in page and "nginx" not in page.lower() and page_id in page
    assert all(code in page for code in record["reason"].split(","))
    assert re.search(r">\s*bob\s*<", page) and re.search(r">\s*admin\s*<", page)
    api_record = front.gateway.record(document["request_id"])
    assert document["status"] == 403 and api_record["decision"] == "deny"
    assert api_record["path"] == "/admin/users"


async def test_the_denied_page_is_not_for_clients_to_ask_for(front: Front) -> None:
    # Behind nginx and Caddy only the proxy itself fetches it.
    spoof = {"X-Authgate-Reason": "route-public", "X-Authgate-Route": "app"}
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{front.url}/.authgate/denied", headers={**BROWSER, **spoof}) as r:
            assert r.status == 404


# ---- Traefik: its documented ForwardAuth contract, against the endpoint ----------

TRAEFIK = {
    "authResponseHeadersRegex": re.compile(r"(?i)^x-authgate-"),
    "authResponseHeaders": ["X-Request-Id", "Cookie", "X-Employee-Name"],
}


def traefik_auth_request(client_headers: CIMultiDict[str], path: str) -> CIMultiDict[str]:
    """What Traefik sends to `address`: every client header, plus X-Forwarded-*
    (with `trustForwardHeader: false` it overwrites the client's)."""
    sent = CIMultiDict(client_headers)
    for name, value in {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "127.0.0.1",
        "X-Forwarded-Uri": path,
        "X-Forwarded-For": "127.0.0.1",
    }.items():
        sent[name] = value
    return sent


def traefik_upstream_request(client_headers: CIMultiDict[str], answer: CIMultiDict[str]) -> CIMultiDict[str]:
    """On a 2xx, Traefik deletes each `authResponseHeaders` name (and each request header
    matching the regex) from the request, then copies those of the answer."""
    regex: re.Pattern[str] = TRAEFIK["authResponseHeadersRegex"]  # type: ignore[assignment]
    names: list[str] = TRAEFIK["authResponseHeaders"]  # type: ignore[assignment]
    request = CIMultiDict(
        (k, v) for k, v in client_headers.items() if not regex.search(k) and k.lower() not in {n.lower() for n in names}
    )
    for name, value in answer.items():
        if regex.search(name) or name.lower() in {n.lower() for n in names}:
            request.add(name, value)
    return request


async def traefik_ask(gateway: Gateway, client_headers: CIMultiDict[str], path: str) -> tuple[int, CIMultiDict[str], str]:
    async with aiohttp.ClientSession() as plain:
        url = f"{gateway.url}/.authgate/auth?mode=forward"
        sent = traefik_auth_request(client_headers, path)
        async with plain.get(url, headers=sent, allow_redirects=False) as r:
            return r.status, CIMultiDict(r.headers), await r.text()


async def direct_session(gateway: Gateway, user: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        start = f"{gateway.url}/.authgate/start?rd=/reports"
        callback = await login_at_provider(client, start, user, f"{user}-password")
        async with client.get(callback, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
        return jar_cookie(client, SESSION)


async def test_traefik_copies_the_identity_and_the_cleaned_cookie(admin_gateway: Gateway) -> None:
    session = await direct_session(admin_gateway, "alice")
    client = CIMultiDict(
        {**API, "Cookie": f"theme=dark; {SESSION}={session}; {LOGIN}=x; app_sid=1", "X-Authgate-User": "mallory"}
    )
    status, answer, _ = await traefik_ask(admin_gateway, client, "/reports")
    assert status == 200
    upstream = traefik_upstream_request(client, answer)
    assert upstream.getall("Cookie") == ["theme=dark; app_sid=1"]
    assert upstream.getall("X-Authgate-User") == ["alice"]
    assert len(upstream.getall("X-Authgate-Assertion")) == 1
    assert upstream["X-Employee-Name"] == "Alice"
    assert all(session not in value for value in upstream.values())


async def test_traefik_with_only_the_gateways_cookies_sends_none(admin_gateway: Gateway) -> None:
    session = await direct_session(admin_gateway, "alice")
    client = CIMultiDict({**API, "Cookie": f"{SESSION}={session}"})
    status, answer, _ = await traefik_ask(admin_gateway, client, "/reports")
    assert status == 200 and "Cookie" not in answer
    assert "Cookie" not in traefik_upstream_request(client, answer)


async def test_traefik_relays_the_gateways_denied_page_and_sign_in(admin_gateway: Gateway) -> None:
    # For a non-2xx Traefik answers the client with the auth answer itself.
    session = await direct_session(admin_gateway, "bob")
    client = CIMultiDict({**BROWSER, "Cookie": f"{SESSION}={session}"})
    status, answer, page = await traefik_ask(admin_gateway, client, "/admin/users")
    assert status == 403 and answer["Content-Type"].startswith("text/html")
    assert "Access denied" in page and answer["X-Request-Id"] in page
    assert re.search(r">\s*bob\s*<", page)
    status, answer, _ = await traefik_ask(admin_gateway, CIMultiDict(BROWSER), "/reports")
    assert status == 302 and answer["Location"].startswith("http://127.0.0.1/.authgate/start?rd=")
