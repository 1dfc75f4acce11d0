"""Which JWKs a verifier keeps (ES256 only), and how a JWKS fetch fails."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.mutate.assertion import AssertionKeys
from authgate.upstream.jwks import MAX_JWKS_BYTES, JwksError, es256_keys, fetch_jwks


def _good() -> dict[str, str]:
    return dict(AssertionKeys.generate().jwks()["keys"][0])


def _p384() -> dict[str, str]:
    numbers = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(48, "big")).rstrip(b"=").decode()

    return {"kty": "EC", "crv": "P-384", "x": b64(numbers.x), "y": b64(numbers.y), "kid": "p384"}


SKIPPED = [
    {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"},
    {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
    _p384(),
    {**_good(), "alg": "ES384"},
    {**_good(), "use": "enc"},
    {k: v for k, v in _good().items() if k != "kid"},
    {**_good(), "x": "AAAA"},  # wrong length
    {**_good(), "y": _good()["x"]},  # not a point on the curve
    {**_good(), "x": "!!not base64!!"},
    {**_good(), "x": 12},
    "not an object",
]


@pytest.mark.parametrize("jwk", SKIPPED)
def test_only_es256_keys_are_kept(jwk: Any) -> None:
    good = _good()
    keys = es256_keys({"keys": [jwk, good]})
    assert list(keys) == [good["kid"]]


def test_alg_and_use_may_be_absent() -> None:
    jwk = {k: v for k, v in _good().items() if k not in ("alg", "use")}
    assert list(es256_keys({"keys": [jwk]})) == [jwk["kid"]]


@pytest.fixture
async def odd_server(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> TestServer:
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=404)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/keys")

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="<html>")

    async def shape(request: web.Request) -> web.Response:
        return web.json_response({"keys": "no"})

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"{" + b" " * MAX_JWKS_BYTES + b"}")

    app = web.Application()
    for path, handler in [
        ("/status", status),
        ("/redirect", redirect),
        ("/text", text),
        ("/shape", shape),
        ("/huge", huge),
    ]:
        app.router.add_get(path, handler)
    return await aiohttp_server(app)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/status", "HTTP 404"),
        ("/redirect", "HTTP 302 redirect not followed"),  # never to someone else's keys
        ("/text", "not JSON"),
        ("/shape", "not a JWK Set"),
        ("/huge", "larger than"),
    ],
)
async def test_fetch_failures(odd_server: TestServer, path: str, message: str) -> None:
    with pytest.raises(JwksError, match=message):
        await fetch_jwks(str(odd_server.make_url(path)))


async def test_connection_refused_is_a_jwks_error(unused_tcp_port: int) -> None:
    with pytest.raises(JwksError):
        await fetch_jwks(f"http://127.0.0.1:{unused_tcp_port}/jwks.json", timeout=2)
