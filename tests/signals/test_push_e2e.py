"""Push delivery (RFC 8935) end to end: the real login, the real gateway, real SETs."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer

from tests.signals.helpers import (
    iss_sub,
    log_in,
    signal_records,
    signals_block,
    status_with,
    userinfo,
    with_signals,
)
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import login_config
from tests.testbed.oidc import OIDCProvider
from tests.testbed.ports import free_port
from tests.testbed.transmitter import CAEP, RISC, Transmitter, push

AUD = "https://gateway.test/"


@pytest.fixture
def signals_gateway(
    oidc_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    transmitter: Transmitter,
    tmp_path: Path,
) -> Callable[..., Gateway]:
    def make(data_plane: str = "native", **block: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        config = login_config(oidc_provider, upstream, tmp_path / "keys.pem")
        config["server"] = {"data_plane": data_plane, "admin_listen": f"127.0.0.1:{free_port()}"}
        return gateway_factory(with_signals(config, signals_block(transmitter, **block)))

    return make


@pytest.mark.parametrize("data_plane", ["native", "aiohttp"])
async def test_a_pushed_session_revoked_ends_the_session(
    signals_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider, transmitter: Transmitter,
    data_plane: str,
) -> None:
    gateway = signals_gateway(data_plane)
    session = await log_in(gateway)
    assert await status_with(gateway, session) == 200
    token = transmitter.sign(transmitter.claims(CAEP + "session-revoked", sub_id=iss_sub(oidc_provider), aud=AUD))
    status, body = await push(f"{gateway.url}/.authgate/signals/corp", token)
    assert (status, body) == (202, None)
    assert await status_with(gateway, session) == 401
    records = gateway.decisions(6)
    event = [r for r in records if r["rule"] == "signal:session-revoked"]
    assert [(r["reason"], r["decision"], r["user"], r["provider"]) for r in event] == [
        ("session-revoked-by-provider", "deny", "bob", "corp")
    ]
    assert any(r["reason"] == "signal-accepted" and r["status"] == 202 for r in records)


async def test_refused_sets_change_nothing_and_answer_rfc_8935_errors(
    signals_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider, transmitter: Transmitter
) -> None:
    gateway = signals_gateway()
    session = await log_in(gateway)
    url = f"{gateway.url}/.authgate/signals/corp"
    revoke = transmitter.claims(CAEP + "session-revoked", sub_id=iss_sub(oidc_provider), aud=AUD)
    refusals = [
        (transmitter.rogue_sign(revoke), {}, "invalid_key", "token-signature-invalid"),
        (transmitter.sign(revoke, kid="not-published"), {}, "invalid_key", "token-kid-unknown"),
        (transmitter.sign({**revoke, "iss": "https://evil.example"}), {}, "invalid_issuer", "token-issuer-invalid"),
        (transmitter.sign({**revoke, "aud": "https://other.example/"}), {}, "invalid_audience", "token-audience-invalid"),
        (transmitter.sign(revoke, typ="JWT"), {}, "invalid_request", "token-type-invalid"),
        (transmitter.sign(revoke), {"bearer": None}, "authentication_failed", "signal-authentication-failed"),
        (transmitter.sign(revoke), {"bearer": "wrong-" * 8}, "authentication_failed", "signal-authentication-failed"),
        (transmitter.sign(revoke), {"content_type": "application/json"}, "invalid_request", "signal-invalid"),
        ("", {}, "invalid_request", "signal-invalid"),
    ]
    for token, options, err, reason in refusals:
        status, body = await push(url, token, **options)
        assert status == 400 and body is not None, (reason, status)
        assert (body["err"], body["description"]) == (err, reason)
        assert gateway.record(body["request_id"])["reason"] == reason
    assert await status_with(gateway, session) == 200  # nothing changed
    assert signal_records(gateway, 1, timeout=0.5) == []


async def test_a_replayed_jti_is_refused(
    signals_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider, transmitter: Transmitter
) -> None:
    gateway = signals_gateway()
    url = f"{gateway.url}/.authgate/signals/corp"
    token = transmitter.sign(transmitter.claims(CAEP + "session-revoked", sub_id=iss_sub(oidc_provider), aud=AUD))
    assert (await push(url, token))[0] == 202
    session = await log_in(gateway)  # a session made after the SET was acted on
    status, body = await push(url, token)
    assert status == 400 and body is not None and body["err"] == "invalid_request"
    assert body["description"] == "token-replayed"
    assert await status_with(gateway, session) == 200  # the replay ended nothing


async def test_each_event_type_has_its_effect_at_the_gateway(
    signals_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider, transmitter: Transmitter
) -> None:
    gateway = signals_gateway()
    url = f"{gateway.url}/.authgate/signals/corp"
    bob, email = iss_sub(oidc_provider), {"format": "email", "email": "Bob@Contractor.Example.net"}

    async def effect(event: str, payload: dict[str, Any], sub_id: dict[str, Any]) -> int:
        session = await log_in(gateway)
        assert (await push(url, transmitter.sign(transmitter.claims(event, payload, sub_id=sub_id, aud=AUD))))[0] == 202
        return await status_with(gateway, session)

    ended = [
        (CAEP + "session-revoked", {}, bob), (CAEP + "session-revoked", {}, email),
        (RISC + "sessions-revoked", {}, bob), (RISC + "account-disabled", {"reason": "hijacking"}, bob),
        (RISC + "account-purged", {}, email), (RISC + "credential-compromise", {"credential_type": "password"}, bob),
        (CAEP + "credential-change", {"credential_type": "password", "change_type": "update"}, bob),
    ]  # fmt: skip
    for event, payload, sub_id in ended:
        assert await effect(event, payload, sub_id) == 401, event
    kept = [
        (CAEP + "credential-change", {"credential_type": "fido2-platform", "change_type": "create"}, bob),
        (CAEP + "token-claims-change", {"claims": {"groups": ["x"]}}, bob),
        ("https://example.com/secevent/made-up", {}, bob),
        (CAEP + "session-revoked", {}, {"format": "iss_sub", "iss": "https://elsewhere.example", "sub": "bob"}),
    ]
    for event, payload, sub_id in kept:
        assert await effect(event, payload, sub_id) == 200, event
    reasons = [r["reason"] for r in signal_records(gateway, 11)]
    assert reasons == [
        "session-revoked-by-provider", "session-revoked-by-provider", "session-revoked-by-provider",
        "account-disabled", "account-purged", "credential-compromised", "credential-changed",
        "credential-changed", "claims-changed", "signal-event-unknown", "signal-subject-unknown",
    ]
    # And a metric per event: by provider, event type and what it did.
    counted = await signal_metrics(gateway)
    assert counted[("corp", "session-revoked", "session-revoked-by-provider")] == 2
    assert counted[("corp", "session-revoked", "signal-subject-unknown")] == 1
    assert counted[("corp", "made-up", "signal-event-unknown")] == 1
    assert sum(counted.values()) == 11


async def signal_metrics(gateway: Gateway) -> dict[tuple[str, str, str], float]:
    admin = yaml.safe_load(gateway.config_path.read_text())["server"]["admin_listen"]
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://{admin}/metrics") as response:
            text = await response.text()
    found = {}
    for line in text.splitlines():
        if line.startswith("authgate_signals_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            found[(labels["provider"], labels["event"], labels["reason"])] = float(line.rsplit(" ", 1)[1])
    return found


async def test_an_assurance_downgrade_lowers_the_sessions_acr(
    signals_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider, transmitter: Transmitter
) -> None:
    gateway = signals_gateway()
    session = await log_in(gateway)
    payload = {"namespace": "NIST-AAL", "current_level": "nist-aal1", "change_direction": "decrease"}
    token = transmitter.sign(
        transmitter.claims(CAEP + "assurance-level-change", payload, sub_id=iss_sub(oidc_provider), aud=AUD)
    )
    assert (await push(f"{gateway.url}/.authgate/signals/corp", token))[0] == 202
    identity = await userinfo(gateway, session)
    assert (identity["acr"], identity["amr"]) == ("nist-aal1", [])
    assert await status_with(gateway, session) == 200  # lowered, not ended


async def test_the_endpoint_serves_push_providers_only(
    signals_gateway: Callable[..., Gateway], transmitter: Transmitter
) -> None:
    gateway = signals_gateway()
    token = transmitter.sign(transmitter.claims(CAEP + "session-revoked", sub_id=None, aud=AUD))
    assert (await push(f"{gateway.url}/.authgate/signals/other", token))[0] == 404
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/.authgate/signals/corp") as r:
            assert (r.status, r.headers.get("Allow")) == (405, "POST")


async def test_a_pushed_session_revoked_closes_the_users_websocket(
    signals_gateway: Callable[..., Gateway], oidc_provider: OIDCProvider, transmitter: Transmitter
) -> None:
    gateway = signals_gateway()
    session = await log_in(gateway)
    async with aiohttp.ClientSession(cookies=session) as client:
        ws = await client.ws_connect(f"{gateway.url}/__ws", headers={"Origin": gateway.url})
        await ws.send_str("ping")
        assert (await ws.receive(timeout=5)).data == "ping"
        token = transmitter.sign(transmitter.claims(CAEP + "session-revoked", sub_id=iss_sub(oidc_provider), aud=AUD))
        pushed = time.monotonic()
        assert (await push(f"{gateway.url}/.authgate/signals/corp", token))[0] == 202
        message = await ws.receive(timeout=5)
        closed = time.monotonic()
    # RFC 6455 §7.4.1: 1008 policy violation, saying why; within the 1 s.
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1008)
    assert "session-revoked-by-provider" in str(message.extra)
    assert closed - pushed < 1.0
    deadline = time.monotonic() + 5
    while not (records := [r for r in gateway.decisions(0) if r["path"] == "/__ws"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert records[-1]["reason"].split(",")[-1] == "session-revoked-by-provider"
