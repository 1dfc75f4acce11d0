"""mTLS-bound access tokens (RFC 8705 §3) on the gateway's TLS listener.

A token whose `cnf.x5t#S256` is the SHA-256 of laptop A's certificate is good only
on a connection that presented laptop A's certificate: the listener verifies the
chain (`devices.mtls`, trustme CAs), the gateway checks it is the token's. The
token comes from the rogue provider (it signs what the test crafts); the gateway
is a real `authgate serve` with `server.tls`.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import trustme
from aiohttp.test_utils import TestServer

from tests.oidc.rogue import RogueProvider, mint, rsa_key
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET

AUDIENCE = "api://orders"


@dataclass
class Laptop:
    context: ssl.SSLContext
    thumbprint: str  # base64url SHA-256 of its DER certificate (RFC 8705 §3.1)


@pytest_asyncio.fixture
async def rogue() -> AsyncIterator[RogueProvider]:
    provider = RogueProvider(published=[rsa_key("rsa-1")])
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    yield provider
    await server.close()


@pytest.fixture
def pki(tmp_path: Path) -> tuple[trustme.CA, trustme.CA]:
    server_ca, device_ca = trustme.CA(), trustme.CA()
    server = server_ca.issue_cert("127.0.0.1")
    server.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "tls.crt"))
    server.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    device_ca.cert_pem.write_to_path(str(tmp_path / "devices-ca.pem"))
    return server_ca, device_ca


def laptop(server_ca: trustme.CA, device_ca: trustme.CA | None, name: str) -> Laptop:
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    if device_ca is None:
        return Laptop(context, "")
    leaf = device_ca.issue_cert(f"{name}.devices.example")
    leaf.configure_cert(context)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    digest = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    return Laptop(context, digest)


async def test_a_certificate_bound_token_needs_its_certificate(
    rogue: RogueProvider,
    pki: tuple[trustme.CA, trustme.CA],
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    server_ca, device_ca = pki
    gateway = gateway_factory(
        {
            "server": {"tls": {"cert": str(tmp_path / "tls.crt"), "key": str(tmp_path / "tls.key")}},
            "devices": {"mtls": {"client_ca": str(tmp_path / "devices-ca.pem"), "mode": "optional"}},
            "secrets": {"cookie_secret": COOKIE_SECRET},
            "providers": [{"id": "rogue", "issuer": rogue.issuer, "client_id": "gateway"}],
            "routes": [
                {
                    "id": "orders",
                    "match": {"host": "127.0.0.1"},
                    "upstream": str(echo_upstream.make_url("/")).rstrip("/"),
                    "authenticate": ["bearer"],
                    "bearer": {"audiences": [AUDIENCE]},
                }
            ],
        }
    )
    a, b, nobody = laptop(server_ca, device_ca, "a"), laptop(server_ca, device_ca, "b"), laptop(server_ca, None, "-")
    now = int(time.time())
    token = mint(
        {"iss": rogue.issuer, "sub": "svc-a", "aud": AUDIENCE, "iat": now, "exp": now + 300,
         "cnf": {"x5t#S256": a.thumbprint}},
        rogue.published[0],
    )  # fmt: skip
    url = f"https://127.0.0.1:{gateway.port}/v1/orders"
    answers = []
    async with aiohttp.ClientSession() as http:
        for who in (a, b, nobody):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            async with http.get(url, headers=headers, ssl=who.context) as r:
                await r.read()
                answers.append((r.status, r.headers.get("WWW-Authenticate", ""), r.headers["X-Request-Id"]))
    assert [status for status, _, _ in answers] == [200, 401, 401]
    reasons = [gateway.record(request_id)["reason"] for _, _, request_id in answers]
    assert reasons == ["user-authenticated", "mtls-certificate-mismatch", "mtls-certificate-missing"]
    for _, challenge, _ in answers[1:]:
        assert challenge.startswith('Bearer realm="authgate", error="invalid_token", error_description="mtls-')
    async with aiohttp.ClientSession() as http:
        async with http.get(f"https://127.0.0.1:{gateway.port}/.well-known/oauth-protected-resource", ssl=a.context) as r:
            assert (await r.json())["tls_client_certificate_bound_access_tokens"] is True
