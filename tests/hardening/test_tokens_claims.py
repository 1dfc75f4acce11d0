"""Claims the gateway trusts, end to end: email_verified, groups/roles shapes, iat.

Sessions come from real logins at the real OpenID Provider (users whose claims have
every shape in question); bearer tokens, and forward-auth calls carrying them, from
the rogue provider; `authgate explain` runs as the CLI. Each path must give the same
answer: an email counts only with `email_verified: true` (the JSON boolean), a
groups/roles claim that is not a JSON array of strings is not membership
(`claim-type-mismatch`, nothing upstream), a bearer JWT without `iat` is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestServer

from authgate.upstream import AssertionVerifier
from tests.oidc.rogue import RogueProvider, mint, rsa_key
from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET
from tests.testbed.oidc import OIDCProvider, login_at_provider, running_oidc_provider

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
API = {"Accept": "application/json"}
AUDIENCE = "api://claims"
_UNSET = object()

# email_verified as providers send it; only the JSON boolean true counts.
VERIFIED_SHAPES: dict[str, Any] = {
    "true": True,
    "false": False,
    "string-true": "true",
    "string-TRUE": "TRUE",
    "one": 1,
    "null": None,
    "missing": _UNSET,
}
# groups/roles shapes that are NOT a JSON array of strings.
MISTYPED_SHAPES: dict[str, Any] = {
    "string": "hr-staff",
    "space-separated": "hr-staff admins",
    "number": 7,
    "object": {"hr-staff": True},
    "bool": True,
    "array-with-number": ["hr-staff", 1],
    "array-with-object": ["hr-staff", {"x": 1}],
    "nested-array": ["hr-staff", ["admins"]],
}


def _user(name: str, **claims: Any) -> dict[str, Any]:
    base = {"email": f"{name}@corp.example", "email_verified": True, "preferred_username": name}
    merged = {k: v for k, v in (base | claims).items() if v is not _UNSET}
    return {"password": f"{name}-password", "claims": merged}


USERS: dict[str, dict[str, Any]] = {
    **{
        f"ev-{label}": _user(f"ev-{label}", email_verified=value, groups=["staff"])
        for label, value in VERIFIED_SHAPES.items()
    },
    **{f"g-{label}": _user(f"g-{label}", groups=value) for label, value in MISTYPED_SHAPES.items()},
    "g-ok": _user("g-ok", groups=["hr-staff", "admins"]),
    "g-contractor-string": _user("g-contractor-string", groups="contractors"),
}


def _routes(upstream: str, **extra: Any) -> list[dict[str, Any]]:
    def route(rid: str, prefix: str, policy: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": rid,
            "match": {"host": "127.0.0.1", "path_prefix": prefix},
            "upstream": upstream,
            "policy": policy,
            **extra,
        }

    return [
        route("email", "/email", {"allow": [{"email_domain": ["corp.example"]}]}),
        route("exact", "/exact", {"allow": [{"email": ["ev-true@corp.example"]}]}),
        route("user", "/user", {"allow": [{"user": ["svc@corp.example"]}]}),
        route("groups", "/groups", {"allow": [{"groups": ["hr-staff"]}]}),
        route("roles", "/roles", {"allow": [{"roles": ["hr-staff"]}]}),
        # Fail closed: a deny on a group must not be walked around by its shape.
        route(
            "deny",
            "/deny",
            {"allow": [{"authenticated": True}], "deny": [{"groups": ["contractors"]}]},
        ),
        route("notgroups", "/not", {"allow": [{"not": {"groups": ["contractors"]}}]}),
        route("app", "/", {"allow": [{"authenticated": True}]}),
    ]


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


def record_of(gateway: Gateway, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [r for r in gateway.decisions(0) if r["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no decision record for {request_id}")


async def get(
    client: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any] | None, str]:
    async with client.get(url, headers=headers or API, allow_redirects=False) as r:
        body = await r.read()
        echo = json.loads(body) if r.status == 200 else None
        return r.status, echo, r.headers["X-Request-Id"]


# ---------------------------------------------------------------- sessions (real OP)


@pytest.fixture(scope="module")
def claims_provider() -> Iterator[OIDCProvider]:
    with running_oidc_provider(users=USERS) as provider:
        yield provider


def _session_config(provider: OIDCProvider, upstream: str, key_file: Path, **provider_extra: Any) -> dict[str, Any]:
    return {
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(key_file)},
        "providers": [
            {
                "id": "corp",
                "issuer": provider.issuer,
                "client_id": provider.client_id,
                "client_secret": provider.client_secret,
                "scopes": ["openid", "email", "profile", "groups"],
                # roles read from the same claim, so both criteria see each shape
                "claims": {"roles": "groups"},
                **provider_extra,
            }
        ],
        "limits": {"login": None},
        "routes": _routes(upstream),
    }


@pytest.fixture
def session_gateway(
    claims_provider: OIDCProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Callable[..., Gateway]:
    def make(**provider_extra: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        return gateway_factory(
            _session_config(claims_provider, upstream, tmp_path / "k.pem", **provider_extra)
        )

    return make


async def logged_in(gateway: Gateway, user: str) -> aiohttp.ClientSession:
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with client.get(f"{gateway.url}/start-here", headers=BROWSER, allow_redirects=False) as r:
        assert r.status == 302
        start = r.headers["Location"]
    callback = await login_at_provider(client, f"{gateway.url}{start}", user, f"{user}-password")
    async with client.get(callback, allow_redirects=False) as r:
        assert r.status == 302, await r.text()
    return client


@pytest.mark.parametrize("label", list(VERIFIED_SHAPES))
async def test_session_email_rules_need_email_verified_json_true(
    session_gateway: Callable[..., Gateway], label: str
) -> None:
    gateway = session_gateway()
    user = f"ev-{label}"
    async with await logged_in(gateway, user) as client:
        for path in ("/email/x", "/exact/x"):
            status, echo, rid = await get(client, f"{gateway.url}{path}")
            record = record_of(gateway, rid)
            if label == "true":
                assert status == 200 and echo is not None, (path, record)
                assert record["decision"] == "allow"
            else:
                assert status == 403, (path, record)
                assert record["decision"] == "deny" and "email-unverified" in record["reason"]


@pytest.mark.parametrize("label", ["false", "string-true", "one", "missing"])
async def test_assume_verified_provider_counts_every_address(
    session_gateway: Callable[..., Gateway], label: str
) -> None:
    gateway = session_gateway(email_verified="assume")
    async with await logged_in(gateway, f"ev-{label}") as client:
        status, _, rid = await get(client, f"{gateway.url}/email/x")
    assert status == 200
    assert record_of(gateway, rid)["reason"] == "email-domain-ok"


@pytest.mark.parametrize("label", list(MISTYPED_SHAPES))
async def test_session_mistyped_groups_are_not_membership(
    session_gateway: Callable[..., Gateway], label: str
) -> None:
    gateway = session_gateway()
    async with await logged_in(gateway, f"g-{label}") as client:
        for path in ("/groups/x", "/roles/x", "/not/x"):
            status, _, rid = await get(client, f"{gateway.url}{path}")
            record = record_of(gateway, rid)
            assert status == 403, (path, record)
            assert "claim-type-mismatch" in record["reason"].split(","), record
        status, echo, rid = await get(client, f"{gateway.url}/app/x")
    assert status == 200 and echo is not None
    assert header(echo, "X-Authgate-Groups") == [] and header(echo, "X-Authgate-Roles") == []
    assert header(echo, "X-Authgate-User") == [f"g-{label}"]
    (assertion,) = header(echo, "X-Authgate-Assertion")
    claims = await AssertionVerifier(f"{gateway.url}/.authgate/jwks.json", audience="app").verify(
        assertion
    )
    assert "groups" not in claims and "roles" not in claims


async def test_session_deny_rule_on_a_group_fails_closed_for_a_string(
    session_gateway: Callable[..., Gateway],
) -> None:
    gateway = session_gateway()
    async with await logged_in(gateway, "g-contractor-string") as client:
        status, _, rid = await get(client, f"{gateway.url}/deny/x")
    record = record_of(gateway, rid)
    assert status == 403 and record["rule"] == "routes[deny].policy.deny[0]"
    assert record["reason"] == "claim-type-mismatch"


async def test_session_well_typed_groups_still_work(session_gateway: Callable[..., Gateway]) -> None:
    gateway = session_gateway()
    async with await logged_in(gateway, "g-ok") as client:
        status, echo, _ = await get(client, f"{gateway.url}/groups/x")
        assert status == 200 and echo is not None
        assert header(echo, "X-Authgate-Groups") == ["hr-staff,admins"]
        status, _, _ = await get(client, f"{gateway.url}/deny/x")
        assert status == 200


# ---------------------------------------------------------------- bearer (rogue provider)


@pytest_asyncio.fixture
async def rogue_server() -> AsyncIterator[RogueProvider]:
    provider = RogueProvider(published=[rsa_key("rsa-1")])
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = f"http://127.0.0.1:{server.port}"
    yield provider
    await server.close()


def _bearer_config(rogue: RogueProvider, upstream: str, key_file: Path, **provider_extra: Any) -> dict[str, Any]:
    return {
        "secrets": {"cookie_secret": COOKIE_SECRET, "assertion_keys": str(key_file)},
        "server": {"trusted_proxies": ["127.0.0.1/32"]},
        "providers": [
            {"id": "rogue", "issuer": rogue.issuer, "client_id": "gateway", **provider_extra}
        ],
        "routes": _routes(
            upstream, authenticate=["bearer"], bearer={"audiences": [AUDIENCE]}
        ),
    }


@pytest.fixture
def bearer_gateway(
    rogue_server: RogueProvider,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> Callable[..., Gateway]:
    def make(**provider_extra: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        return gateway_factory(
            _bearer_config(rogue_server, upstream, tmp_path / "k.pem", **provider_extra)
        )

    return make


def token(rogue: RogueProvider, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": rogue.issuer,
        "sub": "svc-1",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "preferred_username": "svc",
        "email": "svc@corp.example",
        "email_verified": True,
        "groups": ["hr-staff"],
        "roles": ["hr-staff"],
    }
    claims.update(changes)
    return mint({k: v for k, v in claims.items() if v is not _UNSET}, rogue.published[0])


def bearer(value: str) -> dict[str, str]:
    return {**API, "Authorization": f"Bearer {value}"}


# (path, the rule's ok reason, its refusal reason): `user` reads the email as the
# display id when there is no username, and must not take it unverified either.
EMAIL_RULES = {
    "email_domain": ("/email/x", "email-domain-ok", "email-unverified"),
    "user": ("/user/x", "user-ok", "user-unauthorized"),
}


@pytest.mark.parametrize("rule", list(EMAIL_RULES))
@pytest.mark.parametrize("label", list(VERIFIED_SHAPES))
async def test_bearer_email_rules_need_email_verified_json_true(
    bearer_gateway: Callable[..., Gateway], rogue_server: RogueProvider, label: str, rule: str
) -> None:
    path, ok, refused = EMAIL_RULES[rule]
    gateway = bearer_gateway()
    jwt = token(rogue_server, preferred_username=_UNSET, email_verified=VERIFIED_SHAPES[label])
    async with aiohttp.ClientSession() as client:
        status, _, rid = await get(client, f"{gateway.url}{path}", bearer(jwt))
    record = record_of(gateway, rid)
    if label == "true":
        assert status == 200 and record["reason"] == ok
    else:
        assert status == 403 and refused in record["reason"], record


async def test_bearer_assume_verified(
    bearer_gateway: Callable[..., Gateway], rogue_server: RogueProvider
) -> None:
    gateway = bearer_gateway(email_verified="assume")
    async with aiohttp.ClientSession() as client:
        for value in (False, "true", _UNSET):
            status, _, _ = await get(
                client, f"{gateway.url}/email/x", bearer(token(rogue_server, email_verified=value))
            )
            assert status == 200, value


@pytest.mark.parametrize("claim", ["groups", "roles"])
@pytest.mark.parametrize("label", list(MISTYPED_SHAPES))
async def test_bearer_mistyped_membership(
    bearer_gateway: Callable[..., Gateway], rogue_server: RogueProvider, claim: str, label: str
) -> None:
    gateway = bearer_gateway()
    jwt = token(rogue_server, **{claim: MISTYPED_SHAPES[label]})
    async with aiohttp.ClientSession() as client:
        status, _, rid = await get(client, f"{gateway.url}/{claim}/x", bearer(jwt))
        record = record_of(gateway, rid)
        assert status == 403 and "claim-type-mismatch" in record["reason"].split(","), record
        status, echo, _ = await get(client, f"{gateway.url}/app/x", bearer(jwt))
    assert status == 200 and echo is not None
    assert header(echo, f"X-Authgate-{claim.title()}") == []
    other = "roles" if claim == "groups" else "groups"
    assert header(echo, f"X-Authgate-{other.title()}") == ["hr-staff"]  # the good one stays


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({"iat": _UNSET}, "token-claim-missing", id="iat-missing"),
        pytest.param({"iat": None}, "token-claim-missing", id="iat-null"),
        pytest.param({"iat": str(int(time.time()))}, "token-malformed", id="iat-string"),
        pytest.param({"iat": int(time.time()) + 3600}, "token-iat-invalid", id="iat-future"),
        pytest.param({"exp": _UNSET}, "token-claim-missing", id="exp-missing"),
    ],
)
async def test_bearer_tokens_need_iat_and_exp(
    bearer_gateway: Callable[..., Gateway],
    rogue_server: RogueProvider,
    changes: dict[str, Any],
    reason: str,
) -> None:
    gateway = bearer_gateway()
    async with aiohttp.ClientSession() as client:
        async with client.get(
            f"{gateway.url}/app/x", headers=bearer(token(rogue_server, **changes))
        ) as r:
            assert r.status == 401
            assert f'error_description="{reason}"' in r.headers["WWW-Authenticate"]
            rid = r.headers["X-Request-Id"]
    record = record_of(gateway, rid)
    assert record["decision"] == "login" and record["reason"].split(",")[0] == reason


# ---------------------------------------------------------------- forward-auth


async def forward_auth(gateway: Gateway, jwt: str, uri: str) -> tuple[int, dict[str, str], str]:
    headers = {
        **bearer(jwt),
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "127.0.0.1",
        "X-Forwarded-Uri": uri,
    }
    async with aiohttp.ClientSession() as client:
        async with client.get(f"{gateway.url}/.authgate/auth", headers=headers) as r:
            await r.read()
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.headers["X-Request-Id"]


@pytest.mark.parametrize("label", ["string", "number", "object", "array-with-number"])
async def test_forward_auth_applies_the_same_rules(
    bearer_gateway: Callable[..., Gateway], rogue_server: RogueProvider, label: str
) -> None:
    gateway = bearer_gateway()
    jwt = token(rogue_server, groups=MISTYPED_SHAPES[label], email_verified="true")
    status, _, rid = await forward_auth(gateway, jwt, "/groups/x")
    assert status == 403 and "claim-type-mismatch" in record_of(gateway, rid)["reason"]
    status, _, rid = await forward_auth(gateway, jwt, "/email/x")
    assert status == 403 and "email-unverified" in record_of(gateway, rid)["reason"]
    status, headers, _ = await forward_auth(gateway, jwt, "/app/x")
    assert status == 200
    assert "x-authgate-groups" not in headers and headers["x-authgate-roles"] == "hr-staff"


# ---------------------------------------------------------------- explain


def explain(config: dict[str, Any], tmp_path: Path, url: str, claims: dict[str, Any]) -> tuple[int, str]:
    path = tmp_path / "explain.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run(
        [sys.executable, "-m", "authgate", "explain", "-c", str(path), "--url", url,
         "--claims", json.dumps(claims)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    return result.returncode, result.stdout


def _reasons(output: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith("reasons:"))
    return [part.strip() for part in line.partition(":")[2].split(",")]


@pytest.mark.parametrize(
    ("claims", "path", "assume", "allowed", "reason"),
    [
        pytest.param({"email": "a@corp.example", "email_verified": True}, "/email/x", False, True, "email-domain-ok", id="verified"),
        pytest.param({"email": "a@corp.example", "email_verified": "true"}, "/email/x", False, False, "email-unverified", id="string-true"),
        pytest.param({"email": "a@corp.example", "email_verified": 1}, "/email/x", False, False, "email-unverified", id="one"),
        pytest.param({"email": "a@corp.example"}, "/email/x", False, False, "email-unverified", id="missing"),
        pytest.param({"email": "a@corp.example"}, "/email/x", True, True, "email-domain-ok", id="missing-assume"),
        pytest.param({"groups": "hr-staff"}, "/groups/x", False, False, "claim-type-mismatch", id="groups-string"),
        pytest.param({"groups": ["hr-staff", 2]}, "/groups/x", False, False, "claim-type-mismatch", id="groups-mixed"),
        pytest.param({"roles": {"hr-staff": 1}}, "/roles/x", False, False, "claim-type-mismatch", id="roles-object"),
        pytest.param({"groups": "contractors"}, "/deny/x", False, False, "claim-type-mismatch", id="deny-fails-closed"),
        pytest.param({"groups": ["hr-staff"]}, "/groups/x", False, True, "groups-ok", id="groups-ok"),
    ],
)
def test_explain_agrees(
    rogue_server: RogueProvider,
    tmp_path: Path,
    claims: dict[str, Any],
    path: str,
    assume: bool,
    allowed: bool,
    reason: str,
) -> None:
    extra = {"email_verified": "assume"} if assume else {}
    config = _bearer_config(rogue_server, "http://127.0.0.1:9", tmp_path / "k.pem", **extra)
    code, output = explain(config, tmp_path, f"http://127.0.0.1{path}", claims)
    assert code == (0 if allowed else 1), output
    assert reason in _reasons(output), output
