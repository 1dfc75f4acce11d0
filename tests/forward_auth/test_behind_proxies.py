"""Forward-auth end to end: a real nginx (auth_request) and a real Caddy (forward_auth).

Each test runs once per proxy (`front` fixture); the proxy runs the recipe from
docs/forward-auth.md in front of the echo upstream, and the gateway only authorizes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import aiohttp

from authgate.upstream import AssertionVerifier
from tests.forward_auth.conftest import Front
from tests.proxy.helpers import raw_request
from tests.testbed.oidc import login_at_provider

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
API = {"Accept": "application/json"}


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


def last_record(front: Front, count: int, **match: Any) -> dict[str, Any]:
    records = front.gateway.decisions(count)
    found = [r for r in records if all(r.get(k) == v for k, v in match.items())]
    assert found, (match, records)
    return found[-1]


async def log_in(client: aiohttp.ClientSession, front: Front, path: str, user: str = "alice") -> str:
    """Open `path` through the proxy, log in at the provider, come back; return the landing URL."""
    async with client.get(front.url + path, headers=BROWSER, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        start = r.headers["Location"]
    assert start == f"{front.url}/.authgate/start?" + urlencode({"rd": front.url + path})
    callback = await login_at_provider(client, start, user, f"{user}-password")
    # The gateway's callback is on the proxy's origin: the proxy routes /.authgate/*.
    assert callback.startswith(f"{front.url}/.authgate/callback?")
    async with client.get(callback, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        return r.headers["Location"]


async def test_unauthenticated_api_call_gets_401_with_a_challenge(front: Front) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{front.url}/api/orders", headers=API, allow_redirects=False) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith('Session realm="authgate"')
            assert "Location" not in r.headers
    record = last_record(front, 1, path="/api/orders")
    assert record["decision"] == "login" and record["route"] == "app"
    assert record["method"] == "GET" and record["host"] == "127.0.0.1"


async def test_browser_navigation_is_sent_to_login_on_the_proxy_origin(front: Front) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{front.url}/reports/q3?year=2026", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 302
            location = r.headers["Location"]
    rd = f"{front.url}/reports/q3?year=2026"
    assert location == f"{front.url}/.authgate/start?" + urlencode({"rd": rd})


async def test_a_post_is_never_redirected_to_login(front: Front) -> None:
    # Caddy calls the gateway with GET whatever the client did: the navigation test
    # must use the forwarded method.
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{front.url}/form", data=b"x=1", headers=BROWSER, allow_redirects=False) as r:
            assert r.status == 401
    assert last_record(front, 1, path="/form")["method"] == "POST"


async def test_logged_in_request_reaches_the_app_with_the_gateways_identity(front: Front) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        landing = await log_in(client, front, "/reports/q3?year=2026")
        assert landing == f"{front.url}/reports/q3?year=2026"
        spoofed = {"X-Authgate-User": "mallory", "X-Authgate-Email": "m@evil.test", "X-Employee-Name": "Eve"}
        async with client.get(landing, headers={**API, **spoofed}) as r:
            assert r.status == 200, await r.text()
            echo = await r.json()
    assert echo["raw_target"] == "/reports/q3?year=2026"
    assert header(echo, "X-Authgate-User") == ["alice"]
    assert header(echo, "X-Authgate-Email") == ["alice@example.com"]
    assert header(echo, "X-Authgate-Provider") == ["corp"]
    assert header(echo, "X-Employee-Name") == ["Alice"]
    assert "hr-staff" in header(echo, "X-Authgate-Groups")[0]
    (assertion,) = header(echo, "X-Authgate-Assertion")
    verifier = AssertionVerifier(f"{front.url}/.authgate/jwks.json", audience="app")
    claims = await verifier.verify(assertion)
    assert claims["email"] == "alice@example.com" and claims["aud"] == "app"
    record = last_record(front, 5, decision="allow", path="/reports/q3")
    assert record["user"] == "alice" and record["reason"] == "user-authenticated"
    # The id in the decision record is the one the app got: logs join up.
    assert header(echo, "X-Request-Id") == [record["request_id"]]


async def test_client_identity_headers_never_reach_the_app_on_public_paths(front: Front) -> None:
    raw = (
        f"GET /public/page HTTP/1.1\r\nHost: 127.0.0.1:{front.port}\r\n"
        "X-Authgate-User: mallory\r\nx-authgate-email: m@evil.test\r\n"
        "X_Authgate_User: mallory\r\nX-Authgate-Assertion: forged\r\n"
        "X-Authgate-Device: forged\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _, body = await raw_request(front.port, raw)
    assert status == 200
    echo = json.loads(body)
    names = {name.lower().replace("_", "-") for name, _ in echo["headers"]}
    assert not {"x-authgate-user", "x-authgate-email", "x-authgate-assertion"} & names
    if front.kind == "caddy":
        # The Caddy recipe clears the whole namespace; nginx can only overwrite the
        # headers it lists (docs/forward-auth.md, "Limits").
        assert "x-authgate-device" not in names
    assert last_record(front, 1, path="/public/page")["reason"] == "route-public"


async def test_absolute_form_request_is_authorized_for_the_host_the_proxy_serves(front: Front) -> None:
    # The request line names 127.0.0.1 (and the proxy serves that site); the Host
    # header names `public.test`, which the gateway routes as public. Authorizing the
    # Host header's site would let anyone through.
    raw = (
        f"GET http://127.0.0.1:{front.port}/secret HTTP/1.1\r\nHost: public.test\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode()
    status, _, _ = await raw_request(front.port, raw)
    assert status == 401
    record = last_record(front, 1, path="/secret")
    assert record["host"] == "127.0.0.1" and record["route"] == "app"


async def test_forwarded_headers_from_the_client_are_not_believed(front: Front) -> None:
    # Both dialects' headers, naming a public page on the public site: the proxy
    # overwrites its own dialect's, and the other dialect is ignored (pinned mode).
    spoof = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.test",
        "X-Forwarded-Uri": "/public/x",
        "X-Original-URL": "http://public.test/public/x",
        "X-Original-Method": "GET",
    }
    async with aiohttp.ClientSession() as client:
        async with client.delete(f"{front.url}/secret", headers={**API, **spoof}) as r:
            assert r.status == 401
    record = last_record(front, 1, path="/secret")
    assert (record["method"], record["host"], record["route"]) == ("DELETE", "127.0.0.1", "app")


async def test_path_tricks_are_normalized_or_refused_as_in_proxy_mode(front: Front) -> None:
    dots = f"GET /public/../secret HTTP/1.1\r\nHost: 127.0.0.1:{front.port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    status, _, _ = await raw_request(front.port, dots.encode())
    assert status == 401  # /secret, not a public path
    slash = f"GET /public/a%2F..%2F..%2Fsecret HTTP/1.1\r\nHost: 127.0.0.1:{front.port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    status, _, _ = await raw_request(front.port, slash.encode())
    # 400 for Caddy; nginx can only relay 401/403 from auth_request.
    assert status == (403 if front.kind == "nginx" else 400)
    record = last_record(front, 2, reason="path-invalid")
    assert record["decision"] == "deny" and record["rule"] == "forward-auth:target"


async def test_the_auth_endpoint_is_not_reachable_through_the_proxy(front: Front) -> None:
    headers = {"X-Original-URL": "http://127.0.0.1/public/x", "X-Original-Method": "GET"}
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{front.url}/.authgate/auth", headers=headers) as r:
            assert r.status == 404
