"""`oidc.introspection` and `oidc.introspector`: the opaque/JWT shape test, the answer
checks, the bounded cache, one call per token at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from authgate.config.schema_client import IntrospectionConfig
from authgate.oidc.errors import ProviderError, TokenInvalid
from authgate.oidc.introspection import IntrospectionCache, check_answer, looks_like_jwt, token_key
from authgate.oidc.introspector import Introspector

ISS = "https://op.example"
NOW = 1_000_000.0
CONFIG = IntrospectionConfig(cache_ttl=60.0, negative_ttl=5.0, cache_size=3)


@pytest.mark.parametrize(
    ("token", "jwt"),
    [
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", True),
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.", True),  # unsigned shape: still a JWT, validation refuses it
        ("2YotnFZFEjr1zCsicMWpAA", False),  # RFC 6749's example opaque token
        ("a.b.c", False),  # three parts, no JSON header
        ("eyJ0eXAiOiJKV1QifQ.e30.x", False),  # a JSON header without alg
        ("", False),
    ],
)
def test_looks_like_jwt(token: str, jwt: bool) -> None:
    assert looks_like_jwt(token) is jwt


def answer(**claims: Any) -> dict[str, Any]:
    return {"active": True, "iss": ISS, "aud": "api", "sub": "alice", "exp": NOW + 300} | claims


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"active": False}, "token-inactive"),
        (answer(active="true"), "token-inactive"),  # only the JSON boolean
        (answer(iss="https://evil.example"), "token-issuer-invalid"),
        (answer(exp=NOW - 61), "token-expired"),
        (answer(nbf=NOW + 61), "token-not-yet-valid"),
        (answer(aud="other"), "token-audience-invalid"),
        ({k: v for k, v in answer().items() if k != "aud"}, "token-audience-invalid"),
        (answer(sub=None), "token-claim-missing"),
    ],
)
def test_answers_refused(given: dict[str, Any], reason: str) -> None:
    with pytest.raises(TokenInvalid) as refused:
        check_answer(given, issuer=ISS, audiences=["api"], now=NOW, leeway=60)
    assert refused.value.reason == reason


def test_answer_accepted_with_the_client_as_subject() -> None:
    claims = check_answer(answer(sub=None, client_id="agent", aud=["x", "api"]), issuer=ISS, audiences=["api"], now=NOW, leeway=60)
    assert claims["sub"] == "agent"


def test_cache_never_past_exp_and_negative_briefly() -> None:
    cache = IntrospectionCache(CONFIG)
    cache.put("soon", {"exp": NOW + 10}, NOW)
    cache.put("later", {"exp": NOW + 600}, NOW)
    cache.put("no", None, NOW)
    assert cache.get("soon", NOW + 9.9) == (True, {"exp": NOW + 10})
    assert cache.get("soon", NOW + 10) == (False, None)  # its exp, not the 60 s TTL
    assert cache.get("later", NOW + 59.9)[0] and not cache.get("later", NOW + 60)[0]
    assert cache.get("no", NOW + 4.9) == (True, None) and not cache.get("no", NOW + 5)[0]
    cache.put("gone", {"exp": NOW - 1}, NOW)  # already expired: not kept at all
    assert not cache.get("gone", NOW)[0]


def test_cache_is_bounded_least_recently_used_first() -> None:
    cache = IntrospectionCache(CONFIG)
    for key in ("a", "b", "c"):
        cache.put(key, {}, NOW)
    cache.get("a", NOW)  # a is used: b is now the oldest
    cache.put("d", {}, NOW)
    assert len(cache) == 3
    assert [cache.get(k, NOW)[0] for k in "abcd"] == [True, False, True, True]


def test_cache_key_is_a_hash_not_the_token() -> None:
    token = "2YotnFZFEjr1zCsicMWpAA"
    key = token_key(token)
    assert token not in key and len(key) == 64 and key == token_key(token)


class Provider:
    """A stand-in for the HTTP call only: counts calls, answers after `gate` opens."""

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.calls = 0
        self.answer = answer
        self.gate = asyncio.Event()

    async def introspect(self, token: str) -> dict[str, Any]:
        self.calls += 1
        await self.gate.wait()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_concurrent_lookups_share_one_call() -> None:
    provider = Provider(answer())
    introspector = Introspector(CONFIG, provider.introspect, leeway=60)
    waiting = [asyncio.ensure_future(introspector.validate("t", issuer=ISS, audiences=["api"], now=NOW)) for _ in range(10)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # one client goes away: the others still get the answer
    provider.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert provider.calls == 1
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, dict) and r["sub"] == "alice" for r in results[1:])
    await introspector.validate("t", issuer=ISS, audiences=["api"], now=NOW + 1)
    assert provider.calls == 1  # and it was cached


async def test_a_failed_call_reaches_every_waiter_and_caches_nothing() -> None:
    provider = Provider(ProviderError("provider-unreachable"))
    introspector = Introspector(CONFIG, provider.introspect, leeway=60)
    waiting = [asyncio.ensure_future(introspector.validate("t", issuer=ISS, audiences=["api"], now=NOW)) for _ in range(3)]
    await asyncio.sleep(0)
    provider.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, ProviderError) for r in results) and provider.calls == 1
    assert len(introspector.cache) == 0
    with pytest.raises(ProviderError):
        await introspector.validate("t", issuer=ISS, audiences=["api"], now=NOW)
    assert provider.calls == 2  # asked again: an outage is not an answer
