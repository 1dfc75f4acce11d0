"""mTLS on a real TLS listener: aiohttp `TCPSite` with `server_ssl_context`, trustme CAs.

A client connects with a device certificate from the configured CA, without one, and
with one from another CA (or expired), in `optional` and `required` mode.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from authgate.device.cert import (
    ClientCertMode,
    device_from_ssl_object,
    server_ssl_context,
)


@dataclass
class Pki:
    server_ca: trustme.CA
    device_ca: trustme.CA
    other_ca: trustme.CA
    cert: Path
    key: Path
    client_ca: Path


@dataclass
class Client:
    context: ssl.SSLContext
    der: bytes | None  # the client certificate sent, if any


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    server_ca, device_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    server = server_ca.issue_cert("127.0.0.1")
    cert, key, client_ca = root / "server.crt", root / "server.key", root / "devices-ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_pem.write_to_path(str(key))
    device_ca.cert_pem.write_to_path(str(client_ca))
    return Pki(server_ca, device_ca, other_ca, cert, key, client_ca)


def client(pki: Pki, issuer: trustme.CA | None, **validity: datetime.datetime) -> Client:
    context = ssl.create_default_context()
    pki.server_ca.configure_trust(context)
    if issuer is None:
        return Client(context, None)
    leaf = issuer.issue_cert(
        "laptop-42.devices.example.com", common_name="laptop-42", organization_name="Corp",
        **validity,
    )  # fmt: skip
    leaf.configure_cert(context)
    return Client(context, ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode()))


Serve = Callable[[ssl.SSLContext], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a TLS listener whose handler answers the request's mTLS device."""
    runners: list[web.AppRunner] = []

    async def device(request: web.Request) -> web.Response:
        facts = device_from_ssl_object(request.transport.get_extra_info("ssl_object"))
        if facts is None:
            return web.json_response({"device": None})
        return web.json_response(
            {"device": facts.device_id, "subject": facts.subject, "issuer": facts.issuer}
        )

    async def start(context: ssl.SSLContext) -> str:
        app = web.Application()
        app.router.add_get("/", device)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
        host, port = runner.addresses[0][:2]
        return f"https://{host}:{port}/"

    yield start
    for runner in runners:
        await runner.cleanup()


async def fetch(url: str, who: Client) -> dict[str, str | None]:
    connector = aiohttp.TCPConnector(ssl=who.context, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            assert response.status == 200
            body: dict[str, str | None] = await response.json()
            return body


def listener(pki: Pki, mode: ClientCertMode) -> ssl.SSLContext:
    return server_ssl_context(pki.cert, pki.key, pki.client_ca, mode)


@pytest.mark.parametrize("mode", ["optional", "required"])
async def test_a_device_certificate_gives_its_fingerprint(
    pki: Pki, serve: Serve, mode: ClientCertMode
) -> None:
    url, laptop = await serve(listener(pki, mode)), client(pki, pki.device_ca)
    assert laptop.der is not None
    answer = await fetch(url, laptop)
    assert answer["device"] == hashlib.sha256(laptop.der).hexdigest()
    assert answer["subject"] is not None and "CN=laptop-42" in answer["subject"]
    assert answer["subject"] is not None and "O=Corp" in answer["subject"]
    assert answer["issuer"] is not None and "trustme" in answer["issuer"]


async def test_optional_without_a_certificate_has_no_device(pki: Pki, serve: Serve) -> None:
    url = await serve(listener(pki, "optional"))
    assert await fetch(url, client(pki, None)) == {"device": None}


async def test_required_without_a_certificate_fails_the_handshake(
    pki: Pki, serve: Serve
) -> None:
    url = await serve(listener(pki, "required"))
    with pytest.raises(aiohttp.ClientError):
        await fetch(url, client(pki, None))


@pytest.mark.parametrize("mode", ["optional", "required"])
async def test_a_certificate_from_another_ca_fails_the_handshake(
    pki: Pki, serve: Serve, mode: ClientCertMode
) -> None:
    # Present but bad is refused in both modes, never taken as "no certificate".
    url = await serve(listener(pki, mode))
    with pytest.raises(aiohttp.ClientError):
        await fetch(url, client(pki, pki.other_ca))


async def test_an_expired_device_certificate_fails_the_handshake(
    pki: Pki, serve: Serve
) -> None:
    url = await serve(listener(pki, "optional"))
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    end = past + datetime.timedelta(days=1)
    expired = client(pki, pki.device_ca, not_before=past, not_after=end)
    with pytest.raises(aiohttp.ClientError):
        await fetch(url, expired)


async def test_without_a_client_ca_no_certificate_is_asked(pki: Pki, serve: Serve) -> None:
    url = await serve(server_ssl_context(pki.cert, pki.key))
    assert await fetch(url, client(pki, pki.device_ca)) == {"device": None}


def test_unreadable_files_name_the_file(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing.crt"):
        server_ssl_context(tmp_path / "missing.crt", pki.key)
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ValueError, match="client CA bundle .*ca.pem"):
        server_ssl_context(pki.cert, pki.key, bogus)


def test_no_device_without_tls() -> None:
    assert device_from_ssl_object(None) is None
