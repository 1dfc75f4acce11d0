"""A logout revokes the session's refresh token at the real provider (RFC 7009).

The route passes the access token upstream (`pass_access_token`), so the test holds a
token of the session's grant; oidc-provider's introspection says it is active before
the logout and not after: revoking the refresh token ended the grant. The
revocation goes through the same client authentication as every other call.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from tests.hardening.signin import logout_form, signed_in
from tests.login.test_login_flow import BROWSER
from tests.testbed.gateway import Gateway
from tests.testbed.oidc import OIDCProvider, client_auth_header


async def active(op: OIDCProvider, token: str) -> bool:
    assert op.client_secret is not None
    headers = client_auth_header(op.client_id, op.client_secret)
    async with aiohttp.ClientSession() as http:
        async with http.post(op.endpoint("token/introspection"), data={"token": token}, headers=headers) as r:
            assert r.status == 200
            return bool((await r.json())["active"])


async def test_logout_revokes_the_refresh_token(
    login_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider
) -> None:
    gateway = login_gateway(route={"pass_access_token": True})
    async with signed_in(gateway) as client:
        async with client.get(f"{gateway.url}/somewhere", headers={"Accept": "application/json"}) as r:
            echo = await r.json()
        (token,) = [v for k, v in echo["headers"] if k.lower() == "x-forwarded-access-token"]
        assert await active(oidc_provider, token)
        form = await logout_form(client, gateway)
        async with client.post(f"{gateway.url}/.authgate/logout", data=form["fields"], headers=BROWSER,
                               allow_redirects=False) as r:
            assert r.status == 303
    assert not await active(oidc_provider, token)  # the grant ended with its refresh token
    assert "POST /token/revocation 200" in oidc_provider.log_text(limit=1 << 22)
