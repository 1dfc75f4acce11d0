"""JWKS cache: key selection, rotation, the refetch rate limit, shared fetches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from authgate.oidc.errors import ProviderError, TokenInvalid
from authgate.oidc.jwks import JwksCache
from tests.oidc.rogue import RogueKey, ec_key, rsa_key
from tests.testbed.clock import FakeClock

RSA = rsa_key("rsa-1")
RSA_NEW = rsa_key("rsa-2", slot=1)
EC = ec_key("ec-1")




class Provider:
    """A JWKS endpoint in memory: counts fetches, can be slow or fail."""

    def __init__(self, *keys: RogueKey) -> None:
        self.jwks: list[dict[str, Any]] = [k.public_jwk() for k in keys]
        self.fetches = 0
        self.delay = 0.0
        self.error: Exception | None = None

    def publish(self, *keys: RogueKey) -> None:
        self.jwks = [k.public_jwk() for k in keys]

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return {"keys": list(self.jwks)}


def cache(provider: Provider, clock: FakeClock, interval: float = 60.0) -> JwksCache:
    return JwksCache(provider.fetch, min_refetch_interval=interval, clock=clock)


async def test_rotation_unknown_kid_refetches_then_accepts() -> None:
    provider, clock = Provider(RSA), FakeClock(1000.0)
    keys = cache(provider, clock)
    assert (await keys.key_for("rsa-1", "RS256")).key_id == "rsa-1"
    provider.publish(RSA_NEW, RSA)  # the provider rotates
    clock.now += 61
    assert (await keys.key_for("rsa-2", "RS256")).key_id == "rsa-2"
    assert provider.fetches == 2


async def test_known_kids_cost_no_fetch() -> None:
    provider, clock = Provider(RSA, EC), FakeClock(1000.0)
    keys = cache(provider, clock)
    for _ in range(10):
        await keys.key_for("rsa-1", "RS256")
        await keys.key_for("ec-1", "ES256")
    assert provider.fetches == 1


async def test_refetch_is_rate_limited() -> None:
    provider, clock = Provider(RSA), FakeClock(1000.0)
    keys = cache(provider, clock)
    await keys.key_for("rsa-1", "RS256")
    provider.publish(RSA_NEW)
    clock.now += 30  # within the interval: no refetch, the new kid stays unknown
    with pytest.raises(TokenInvalid, match="token-kid-unknown"):
        await keys.key_for("rsa-2", "RS256")
    assert provider.fetches == 1
    clock.now += 31
    assert (await keys.key_for("rsa-2", "RS256")).key_id == "rsa-2"
    assert provider.fetches == 2


async def test_a_flood_of_unknown_kids_makes_one_fetch() -> None:
    provider, clock = Provider(RSA), FakeClock(1000.0)
    keys = cache(provider, clock)
    await keys.key_for("rsa-1", "RS256")
    clock.now += 61
    provider.delay = 0.01  # all callers arrive while the refetch is in flight

    async def attempt(i: int) -> str:
        try:
            await keys.key_for(f"made-up-{i}", "RS256")
        except TokenInvalid as error:
            return error.reason
        return "accepted"

    reasons = await asyncio.gather(*(attempt(i) for i in range(50)))
    assert set(reasons) == {"token-kid-unknown"}
    assert provider.fetches == 2
    reasons = await asyncio.gather(*(attempt(i) for i in range(50, 100)))
    assert set(reasons) == {"token-kid-unknown"} and provider.fetches == 2


async def test_concurrent_first_use_shares_one_fetch() -> None:
    provider, clock = Provider(RSA), FakeClock(1000.0)
    provider.delay = 0.01
    keys = cache(provider, clock)
    found = await asyncio.gather(*(keys.key_for("rsa-1", "RS256") for _ in range(20)))
    assert {k.key_id for k in found} == {"rsa-1"} and provider.fetches == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch() -> None:
    provider, clock = Provider(RSA), FakeClock(1000.0)
    provider.delay = 0.05
    keys = cache(provider, clock)
    first = asyncio.create_task(keys.key_for("rsa-1", "RS256"))
    second = asyncio.create_task(keys.key_for("rsa-1", "RS256"))
    await asyncio.sleep(0.01)
    first.cancel()
    assert (await second).key_id == "rsa-1"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert provider.fetches == 1


async def test_fetch_errors_propagate_and_the_first_load_is_retried() -> None:
    provider, clock = Provider(RSA), FakeClock(1000.0)
    provider.error = ProviderError("provider-unreachable")
    keys = cache(provider, clock)
    with pytest.raises(ProviderError, match="provider-unreachable"):
        await keys.key_for("rsa-1", "RS256")
    provider.error = None  # back up: used at once, no waiting for the interval
    assert (await keys.key_for("rsa-1", "RS256")).key_id == "rsa-1"
    assert provider.fetches == 2


async def test_a_failed_refetch_keeps_the_old_keys() -> None:
    provider, clock = Provider(RSA), FakeClock(1000.0)
    keys = cache(provider, clock)
    await keys.key_for("rsa-1", "RS256")
    clock.now += 61
    provider.error = ProviderError("provider-timeout")
    with pytest.raises(ProviderError):
        await keys.key_for("rsa-2", "RS256")
    assert (await keys.key_for("rsa-1", "RS256")).key_id == "rsa-1"


async def test_missing_kid_needs_exactly_one_candidate() -> None:
    provider, clock = Provider(RSA, RSA_NEW, EC), FakeClock(1000.0)
    keys = cache(provider, clock)
    with pytest.raises(TokenInvalid, match="token-kid-missing"):
        await keys.key_for(None, "RS256")
    assert (await keys.key_for(None, "ES256")).key_id == "ec-1"


async def test_missing_kid_and_no_candidate_is_unknown() -> None:
    provider, clock = Provider(EC), FakeClock(1000.0)
    with pytest.raises(TokenInvalid, match="token-kid-unknown"):
        await cache(provider, clock).key_for(None, "RS256")


def _variant(key: RogueKey, **changes: Any) -> dict[str, Any]:
    return key.public_jwk(**changes)


@pytest.mark.parametrize(
    ("jwk", "alg"),
    [
        pytest.param(_variant(RSA, use="enc"), "RS256", id="use-enc"),
        pytest.param(_variant(RSA, key_ops=["encrypt"]), "RS256", id="key-ops-without-verify"),
        pytest.param(_variant(RSA, key_ops="verify"), "RS256", id="key-ops-not-a-list"),
        pytest.param(_variant(RSA, alg="RS512"), "RS256", id="jwk-alg-other"),
        pytest.param(_variant(RSA, d="AQAB"), "RS256", id="private-member"),
        pytest.param(_variant(RSA, n=None), "RS256", id="rsa-modulus-missing"),
        pytest.param(_variant(RSA, n="!!!"), "RS256", id="rsa-modulus-garbage"),
        pytest.param(_variant(ec_key("ec-1", "ES384"), alg=None), "ES256", id="p384-for-es256"),
        pytest.param(_variant(EC, crv="P-384"), "ES256", id="crv-lies"),
        pytest.param({"kty": "oct", "k": "c2VjcmV0", "kid": "rsa-1"}, "HS256", id="symmetric"),
        pytest.param(
            {"kty": "oct", "k": "c2VjcmV0", "kid": "rsa-1"}, "RS256", id="symmetric-for-rs256"
        ),
    ],
)
async def test_unusable_keys_are_never_selected(jwk: dict[str, Any], alg: str) -> None:
    async def fetch() -> dict[str, Any]:
        return {"keys": [jwk, "not-an-object"]}

    keys = JwksCache(fetch)
    with pytest.raises(TokenInvalid) as caught:
        await keys.key_for(jwk.get("kid"), alg)
    assert caught.value.reason in {"token-kid-unknown", "token-alg-not-allowed"}
    with pytest.raises(TokenInvalid):
        await keys.key_for(None, alg)


async def test_jwk_without_alg_is_usable_for_fitting_algorithms() -> None:
    async def fetch() -> dict[str, Any]:
        return {"keys": [RSA.public_jwk(alg=None)]}

    keys = JwksCache(fetch)
    assert (await keys.key_for("rsa-1", "PS256")).algorithm_name == "PS256"
    assert (await keys.key_for("rsa-1", "RS256")).algorithm_name == "RS256"


@pytest.mark.parametrize("document", [{}, {"keys": "none"}, {"keys": {"a": 1}}])
async def test_a_jwks_without_a_key_list_is_a_bad_response(document: dict[str, Any]) -> None:
    async def fetch() -> dict[str, Any]:
        return document

    with pytest.raises(ProviderError, match="provider-bad-response"):
        await JwksCache(fetch).key_for("rsa-1", "RS256")
