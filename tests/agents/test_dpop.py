"""DPoP (RFC 9449) on a bearer route: one table of proofs against a real `authgate serve`.

The token in every row is a real one: oidc-provider's client-credentials token,
bound to the client's key `KEY` by `cnf.jkt` (the provider checked the proof at its
token endpoint). Each row sends that token with a proof crafted one way, to
`GET /mcp/tools?page=2` (htu compares without the query, §4.3 step 9), and checks the
status, the `WWW-Authenticate` error (§7.1) and the reason in the decision record.
The replay rows send one proof twice — to one gateway, then to two replicas that
share a real Redis store. The nonce rows follow §9's dance: refused with
`use_dpop_nonce` and a `DPoP-Nonce`, then let in with it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.agents.conftest import AGENT_ID, AGENT_SECRET, api_config, start_api_gateway
from tests.agents.dpop_client import DROP, DpopKey, ath, client_credentials, hs256_proof, unsigned_proof
from tests.dataplane.recording_upstream import RecordingUpstream
from tests.testbed.gateway import Gateway, start_gateway
from tests.testbed.oidc import OIDCProvider
from tests.testbed.ports import free_port
from tests.testbed.redis import RedisServer

KEY = DpopKey()
OTHER = DpopKey()
RSA = DpopKey.rsa()  # its public JWK makes a header past 512 bytes
PATH = "/mcp/tools"


@dataclass
class Bed:
    gateway: Gateway
    token: str  # bound to KEY
    rsa_token: str  # bound to RSA

    @property
    def url(self) -> str:
        return self.gateway.url + PATH


async def bound_token(provider: OIDCProvider, resource: str, key: DpopKey = KEY) -> str:
    answer = await client_credentials(
        provider.endpoint("token"), AGENT_ID, AGENT_SECRET, resource=resource, scope="mcp:tools", dpop=key
    )
    assert answer["token_type"] == "DPoP"
    return str(answer["access_token"])


@pytest.fixture(scope="module")
def bed(
    agent_provider: OIDCProvider, recording_upstream: RecordingUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bed]:
    # No regulation here: the table's stolen-token rows would get 127.0.0.1 banned
    # (that is tested on a gateway of its own, below).
    gateway = start_api_gateway(
        agent_provider, recording_upstream.url, tmp_path_factory.mktemp("dpop"), limits={"regulation": None}
    )
    try:
        # Module scope, sync: the token is fetched on a loop of its own.
        resource = gateway.url + "/mcp"
        tokens = [asyncio.run(bound_token(agent_provider, resource, key)) for key in (KEY, RSA)]
        yield Bed(gateway, *tokens)
    finally:
        gateway.stop()


@dataclass
class Sent:
    status: int
    challenge: str
    nonce: str | None
    request_id: str


async def send(url: str, authorization: str | None, *proofs: str, host: str | None = None) -> Sent:
    headers: list[tuple[str, str]] = [("Accept", "application/json")]
    if authorization is not None:
        headers.append(("Authorization", authorization))
    headers += [("DPoP", proof) for proof in proofs]
    if host is not None:
        headers.append(("Host", host))
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "?page=2", headers=headers) as r:
            await r.read()
            return Sent(r.status, r.headers.get("WWW-Authenticate", ""), r.headers.get("DPoP-Nonce"), r.headers["X-Request-Id"])


def error_of(challenge: str) -> str | None:
    found = re.search(r'DPoP [^,]*(?:, [a-z_]+="[^"]*")*?, error="([a-z_]+)"', challenge)
    return found.group(1) if found else None


Row = Callable[[Bed], tuple[str | None, tuple[str, ...]]]


def dpop(proof: Callable[[Bed], str]) -> Row:
    return lambda bed: (f"DPoP {bed.token}", (proof(bed),))


ROWS: list[Any] = [
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url, token=b.token)), 200, None, "scopes-ok", id="valid"),
    pytest.param(
        lambda b: (f"DPoP {b.rsa_token}", (RSA.proof("GET", b.url, token=b.rsa_token),)),
        200, None, "scopes-ok", id="valid-rs256",
    ),
    pytest.param(
        dpop(lambda b: KEY.proof("GET", b.url.replace("http://", "HTTP://").replace("/mcp/", "/mcp/./") + "?page=2#x", token=b.token)),
        200, None, "scopes-ok", id="htu-normalized-query-ignored",
    ),
    pytest.param(dpop(lambda b: KEY.proof("POST", b.url, token=b.token)), 401, "invalid_dpop_proof", "dpop-htm-mismatch", id="wrong-htm"),
    pytest.param(dpop(lambda b: KEY.proof("get", b.url, token=b.token)), 401, "invalid_dpop_proof", "dpop-htm-mismatch", id="htm-case"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.gateway.url + "/mcp/other", token=b.token)), 401, "invalid_dpop_proof", "dpop-htu-mismatch", id="wrong-htu-path"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url.replace("127.0.0.1", "localhost"), token=b.token)), 401, "invalid_dpop_proof", "dpop-htu-mismatch", id="wrong-htu-host"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url.replace("http:", "https:"), token=b.token)), 401, "invalid_dpop_proof", "dpop-htu-mismatch", id="wrong-htu-scheme"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url, token=b.token, iat=int(time.time()) - 120)), 401, "invalid_dpop_proof", "dpop-iat-invalid", id="stale-iat"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url, token=b.token, iat=int(time.time()) + 60)), 401, "invalid_dpop_proof", "dpop-iat-invalid", id="future-iat"),
    pytest.param(dpop(lambda b: OTHER.proof("GET", b.url, token=b.token)), 401, "invalid_dpop_proof", "dpop-key-mismatch", id="wrong-key-for-cnf-jkt"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url)), 401, "invalid_dpop_proof", "dpop-ath-mismatch", id="missing-ath"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url, token=b.token, ath=ath(b.token + "x"))), 401, "invalid_dpop_proof", "dpop-ath-mismatch", id="wrong-ath"),
    pytest.param(lambda b: (f"DPoP {b.token}", ()), 401, "invalid_token", "dpop-proof-missing", id="bound-token-without-proof"),
    pytest.param(lambda b: (f"Bearer {b.token}", ()), 401, "invalid_token", "dpop-proof-missing", id="bound-token-as-bearer"),
    pytest.param(lambda b: (f"Bearer {b.token}", (KEY.proof("GET", b.url, token=b.token),)), 401, "invalid_token", "dpop-proof-missing", id="bound-token-as-bearer-with-proof"),
    pytest.param(dpop(lambda b: unsigned_proof(KEY, "GET", b.url, b.token)), 401, "invalid_dpop_proof", "dpop-alg-not-allowed", id="alg-none"),
    pytest.param(dpop(lambda b: hs256_proof("GET", b.url, b.token)), 401, "invalid_dpop_proof", "dpop-alg-not-allowed", id="alg-hs256"),
    pytest.param(
        dpop(lambda b: KEY.proof("GET", b.url, token=b.token, header={"jwk": KEY.key.as_dict(private=True)})),
        401, "invalid_dpop_proof", "dpop-proof-invalid", id="private-key-in-jwk",
    ),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url, token=b.token, header={"typ": "JWT"})), 401, "invalid_dpop_proof", "dpop-proof-invalid", id="wrong-typ"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url, token=b.token, header={"jwk": OTHER.public_jwk})), 401, "invalid_dpop_proof", "dpop-proof-invalid", id="signature-not-by-jwk"),
    pytest.param(dpop(lambda b: KEY.proof("GET", b.url, token=b.token, jti=DROP)), 401, "invalid_dpop_proof", "dpop-proof-invalid", id="no-jti"),
    pytest.param(
        lambda b: (f"DPoP {b.token}", (KEY.proof("GET", b.url, token=b.token), KEY.proof("GET", b.url, token=b.token))),
        401, "invalid_dpop_proof", "dpop-proof-invalid", id="two-proofs",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("make", "status", "error", "reason"), ROWS)
async def test_dpop_proofs(bed: Bed, make: Row, status: int, error: str | None, reason: str) -> None:
    authorization, proofs = make(bed)
    sent = await send(bed.url, authorization, *proofs)
    record = bed.gateway.record(sent.request_id)
    assert (sent.status, record["reason"]) == (status, reason)
    if status == 401:
        assert error_of(sent.challenge) == error, sent.challenge
        assert "resource_metadata=" in sent.challenge
        assert record["decision"] == "login"


async def test_a_proof_is_accepted_once(bed: Bed) -> None:
    proof = KEY.proof("GET", bed.url, token=bed.token)
    first = await send(bed.url, f"DPoP {bed.token}", proof)
    second = await send(bed.url, f"DPoP {bed.token}", proof)
    assert (first.status, second.status) == (200, 401)
    assert error_of(second.challenge) == "invalid_dpop_proof"
    assert bed.gateway.record(second.request_id)["reason"] == "dpop-replayed"


async def test_the_proof_stays_at_the_gateway(bed: Bed, recording_upstream: RecordingUpstream) -> None:
    marker = uuid.uuid4().hex
    headers = {
        "Authorization": f"DPoP {bed.token}",
        "DPoP": KEY.proof("GET", bed.url, token=bed.token),
        "X-Test": marker,
    }
    async with aiohttp.ClientSession() as http:
        async with http.get(bed.url, headers=headers) as r:
            assert r.status == 200
            r_id = r.headers["X-Request-Id"]
    _, received = recording_upstream.settled()
    upstream = [req for req in received if req.header("X-Test") == [marker]]
    assert len(upstream) == 1
    assert upstream[0].header("Authorization") == [f"DPoP {bed.token}"]  # what was validated
    assert upstream[0].header("DPoP") == []  # spent, and made for the gateway's URL
    assert "dpop" in bed.gateway.record(r_id)["stripped"]


async def test_a_replayed_proof_is_refused_by_another_replica(
    agent_provider: OIDCProvider,
    recording_upstream: RecordingUpstream,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    port_a, port_b = free_port(), free_port()
    config = api_config(agent_provider, recording_upstream.url, port_a)
    config["store"] = {"backend": "redis", "url": redis_server.url, "key_prefix": f"dpop-{secrets.token_hex(4)}:"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    replica_a = start_gateway(config, tmp_path / "a")
    replica_b = start_gateway({**config, "server": {"listen": f"127.0.0.1:{port_b}"}}, tmp_path / "b")
    try:
        url = f"http://127.0.0.1:{port_a}{PATH}"  # the one public URL of both replicas
        token = await bound_token(agent_provider, f"http://127.0.0.1:{port_a}/mcp")
        proof = KEY.proof("GET", url, token=token)
        first = await send(url, f"DPoP {token}", proof)
        # The load balancer sends the same request to the other replica.
        again = await send(f"http://127.0.0.1:{port_b}{PATH}", f"DPoP {token}", proof, host=f"127.0.0.1:{port_a}")
        fresh = await send(
            f"http://127.0.0.1:{port_b}{PATH}", f"DPoP {token}", KEY.proof("GET", url, token=token),
            host=f"127.0.0.1:{port_a}",
        )  # fmt: skip
        assert (first.status, again.status, fresh.status) == (200, 401, 200)
        assert replica_b.record(again.request_id)["reason"] == "dpop-replayed"
    finally:
        replica_a.stop()
        replica_b.stop()


async def test_the_nonce_dance(
    agent_provider: OIDCProvider, recording_upstream: RecordingUpstream, tmp_path: Path
) -> None:
    gateway = start_api_gateway(agent_provider, recording_upstream.url, tmp_path, bearer={"dpop_nonce": True})
    try:
        url = gateway.url + PATH
        token = await bound_token(agent_provider, gateway.url + "/mcp")
        first = await send(url, f"DPoP {token}", KEY.proof("GET", url, token=token))
        assert first.status == 401 and error_of(first.challenge) == "use_dpop_nonce"
        assert first.nonce is not None
        forged = await send(url, f"DPoP {token}", KEY.proof("GET", url, token=token, nonce=f"{int(time.time())}.AAAA"))
        assert forged.status == 401 and error_of(forged.challenge) == "use_dpop_nonce"
        second = await send(url, f"DPoP {token}", KEY.proof("GET", url, token=token, nonce=first.nonce))
        assert second.status == 200
        assert second.nonce is not None  # the next one to use (§8.2)
        reasons = [gateway.record(s.request_id)["reason"] for s in (first, forged, second)]
        assert reasons == ["dpop-nonce-required", "dpop-nonce-required", "scopes-ok"]
    finally:
        gateway.stop()


async def test_dpop_required_refuses_an_unbound_token(
    agent_provider: OIDCProvider, recording_upstream: RecordingUpstream, tmp_path: Path
) -> None:
    gateway = start_api_gateway(agent_provider, recording_upstream.url, tmp_path, bearer={"dpop": "required"})
    try:
        answer = await client_credentials(
            agent_provider.endpoint("token"), AGENT_ID, AGENT_SECRET, resource=gateway.url + "/mcp", scope="mcp:tools"
        )
        sent = await send(gateway.url + PATH, f"Bearer {answer['access_token']}")
        assert sent.status == 401 and error_of(sent.challenge) == "invalid_token"
        assert not sent.challenge.startswith("Bearer")  # DPoP only
        assert gateway.record(sent.request_id)["reason"] == "dpop-required"
    finally:
        gateway.stop()


async def test_forward_dpop_passes_the_proof_on(
    agent_provider: OIDCProvider, recording_upstream: RecordingUpstream, tmp_path: Path
) -> None:
    gateway = start_api_gateway(agent_provider, recording_upstream.url, tmp_path, bearer={"forward_dpop": True})
    try:
        token = await bound_token(agent_provider, gateway.url + "/mcp")
        proof, marker = KEY.proof("GET", gateway.url + PATH, token=token), uuid.uuid4().hex
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, "X-Test": marker}
        async with aiohttp.ClientSession() as http:
            async with http.get(gateway.url + PATH, headers=headers) as r:
                assert r.status == 200
    finally:
        gateway.stop()
    _, received = recording_upstream.settled()
    assert [req.header("DPoP") for req in received if req.header("X-Test") == [marker]] == [[proof]]


async def test_behind_a_forward_auth_proxy_the_proof_names_the_public_url(
    agent_provider: OIDCProvider, recording_upstream: RecordingUpstream, tmp_path: Path
) -> None:
    gateway = start_api_gateway(
        agent_provider, recording_upstream.url, tmp_path, server={"trusted_proxies": ["127.0.0.1/32"]}
    )
    public = "https://127.0.0.1:8443"  # what the client called: the proxy's address
    try:
        token = await bound_token(agent_provider, gateway.url + "/mcp")
        forwarded = {
            "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "127.0.0.1:8443", "X-Forwarded-Uri": PATH + "?page=2",
            "Authorization": f"DPoP {token}", "Accept": "application/json",
        }  # fmt: skip
        answers = []
        async with aiohttp.ClientSession() as http:
            for htu in (public + PATH, gateway.url + PATH):
                headers = {**forwarded, "DPoP": KEY.proof("GET", htu, token=token)}
                async with http.get(gateway.url + "/.authgate/auth", headers=headers) as r:
                    answers.append((r.status, r.headers.get("WWW-Authenticate", ""), r.headers["X-Request-Id"]))
    finally:
        gateway.stop()
    assert [status for status, _, _ in answers] == [200, 401]
    assert f'resource_metadata="{public}/.well-known/oauth-protected-resource/mcp"' in answers[1][1]
    assert gateway.record(answers[1][2])["reason"] == "dpop-htu-mismatch"


async def test_behind_a_forward_auth_proxy_a_short_token_gets_insufficient_scope(
    agent_provider: OIDCProvider, recording_upstream: RecordingUpstream, tmp_path: Path
) -> None:
    gateway = start_api_gateway(
        agent_provider, recording_upstream.url, tmp_path, server={"trusted_proxies": ["127.0.0.1/32"]}
    )
    try:
        answer = await client_credentials(
            agent_provider.endpoint("token"), AGENT_ID, AGENT_SECRET, resource=gateway.url + "/mcp", scope="orders.read"
        )
        headers = {
            "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "127.0.0.1:8443", "X-Forwarded-Uri": PATH,
            "Authorization": f"Bearer {answer['access_token']}", "Accept": "application/json",
        }  # fmt: skip
        async with aiohttp.ClientSession() as http:
            async with http.get(gateway.url + "/.authgate/auth", headers=headers) as r:
                status, challenge = r.status, r.headers.get("WWW-Authenticate", "")
    finally:
        gateway.stop()
    assert status == 403
    assert challenge.startswith('Bearer realm="authgate", error="insufficient_scope", scope="mcp:tools"')
    assert 'resource_metadata="https://127.0.0.1:8443/.well-known/oauth-protected-resource/mcp"' in challenge


async def test_a_bound_token_used_without_its_key_counts_towards_a_ban(
    agent_provider: OIDCProvider, recording_upstream: RecordingUpstream, tmp_path: Path
) -> None:
    config = {"limits": {"regulation": {"max_failures": 2, "find_time": "1m", "ban_time": "1m"}}}
    gateway = start_api_gateway(agent_provider, recording_upstream.url, tmp_path, **config)
    try:
        url = gateway.url + PATH
        token = await bound_token(agent_provider, gateway.url + "/mcp")
        # A client bug (no nonce asked for, a stale proof) is not counted ...
        stale = [await send(url, f"DPoP {token}", KEY.proof("GET", url, token=token, iat=int(time.time()) - 600)) for _ in range(3)]
        # ... a thief's tries with the token alone are.
        stolen = [await send(url, f"Bearer {token}"), await send(url, f"DPoP {token}", OTHER.proof("GET", url, token=token))]
        after = await send(url, f"DPoP {token}", KEY.proof("GET", url, token=token))
    finally:
        gateway.stop()
    assert [s.status for s in stale + stolen] == [401] * 5
    assert after.status == 429, [r["reason"] for r in gateway.decisions(6)]  # the address is banned, even with the right key now
    assert gateway.record(after.request_id)["reason"] == "login-banned"
