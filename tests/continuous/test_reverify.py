"""`continuous.reverify`: each answer of the provider and what it does to the session
(the table in its contract), against the rogue provider and a real memory store."""

from __future__ import annotations

import time
from typing import Any

import pytest

from authgate.continuous.reverify import reverify
from authgate.identity import Identity
from authgate.sessions.memory import MemorySessionStore
from authgate.sessions.model import Session, Tokens
from authgate.sessions.refresh import RefreshCoordinator
from tests.oidc.conftest import CLIENT_ID, ClientFactory, http, rogue, rogue_client  # noqa: F401
from tests.oidc.rogue import DROP, RogueProvider, mint

INTERVAL = 60.0


def _claims(rogue: RogueProvider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": rogue.issuer, "aud": CLIENT_ID, "sub": "alice", "iat": now, "exp": now + 300,
            "groups": ["admins"], "acr": "mfa", "amr": ["pwd", "otp"], "email": "alice@example.com"}
    return {k: v for k, v in (base | changes).items() if v is not None}


def _session(rogue: RogueProvider, *, refresh_token: str | None = "rt", verified: float | None = None) -> Session:
    now = time.time()
    verified = now - 2 * INTERVAL if verified is None else verified
    claims = _claims(rogue)
    identity = Identity("alice", "rogue", "session", email="alice@example.com", groups=("admins",),
                        acr="mfa", amr=("pwd", "otp"), claims={k: v for k, v in claims.items() if k not in ("aud", "iat", "exp")})
    tokens = Tokens("at", refresh_token, mint(claims, rogue.published[0]), now + 3600)
    return Session("s" * 43, identity, tokens, None, now - 3 * INTERVAL, now, now + 86400, verified)


def _token(rogue: RogueProvider, **claims: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": "at-2", "token_type": "Bearer", "expires_in": 300}
    if claims.pop("no_id_token", False) is False:
        body["id_token"] = mint(_claims(rogue, **claims), rogue.published[0])
    return body


async def _run(rogue_client: ClientFactory, session: Session, **config: Any) -> tuple[Any, MemorySessionStore]:
    client = await rogue_client(**config)
    store = MemorySessionStore(idle_timeout=86400)
    await store.create(session)
    result = await reverify(
        session, client, RefreshCoordinator(store, 60.0), store, reverify_every=INTERVAL
    )
    return result, store


async def test_nothing_due_asks_nothing(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    result, _ = await _run(rogue_client, _session(rogue, verified=time.time()))
    assert (result.reason, rogue.token_requests, rogue.userinfo_requests) == (None, [], [])


async def test_a_removed_group_is_groups_changed_and_stored(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.token_body = _token(rogue, groups=["staff"])
    result, store = await _run(rogue_client, _session(rogue))
    assert result.reason == "groups-changed"
    assert result.session.identity.groups == ("staff",)
    stored = await store.get(result.session.id, time.time())
    assert stored is not None and stored.identity.groups == ("staff",)
    assert stored.verified_at > time.time() - 5 and stored.tokens.access_token == "at-2"


async def test_an_unchanged_identity_is_renewed_without_a_reason(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.token_body = _token(rogue)
    result, _ = await _run(rogue_client, _session(rogue))
    assert result.reason is None
    assert result.session.verified_at > time.time() - 5


async def test_acr_and_amr_only_as_the_provider_re_asserts_them(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.token_body = _token(rogue, acr=None, amr=None)  # not re-asserted: the login's stand
    kept, _ = await _run(rogue_client, _session(rogue))
    assert (kept.session.identity.acr, kept.session.identity.amr) == ("mfa", ("pwd", "otp"))
    rogue.token_body = _token(rogue, acr="pwd", amr=["pwd"])  # re-asserted lower: downgraded
    lowered, _ = await _run(rogue_client, _session(rogue))
    assert (lowered.session.identity.acr, lowered.reason) == ("pwd", "identity-changed")


async def test_a_refresh_without_an_id_token_keeps_the_identity(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.token_body = _token(rogue, no_id_token=True)
    result, _ = await _run(rogue_client, _session(rogue))
    assert result.reason is None
    assert result.session.identity.groups == ("admins",)
    assert result.session.tokens.access_token == "at-2"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param({"sub": "mallory"}, "refresh-identity-mismatch", id="sub"),
        pytest.param({"azp": "other"}, "refresh-identity-mismatch", id="azp"),
    ],
)
async def test_a_mismatch_ends_the_session(
    rogue: RogueProvider, rogue_client: ClientFactory, claims: dict[str, Any], reason: str
) -> None:
    rogue.token_body = _token(rogue, **claims)
    result, store = await _run(rogue_client, session := _session(rogue))
    assert (result.session, result.reason) == (None, reason)
    assert await store.get(session.id, time.time()) is None


async def test_invalid_grant_ends_it(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.token_status, rogue.token_body = 400, {"error": "invalid_grant"}
    result, store = await _run(rogue_client, session := _session(rogue))
    assert (result.session, result.reason) == (None, "session-revoked-by-provider")
    assert await store.get(session.id, time.time()) is None


@pytest.mark.parametrize(
    ("grace", "kept"), [pytest.param("1h", True, id="within"), pytest.param("30s", False, id="past")]
)
async def test_an_outage_is_deferred_within_the_grace(
    rogue: RogueProvider, rogue_client: ClientFactory, grace: str, kept: bool
) -> None:
    # Due 60 s ago (verified 120 s ago, every 60 s): a 1 h grace holds, 30 s does not.
    rogue.token_status, rogue.token_body = 503, "down"
    result, store = await _run(rogue_client, session := _session(rogue), outage_grace=grace)
    if kept:
        assert (result.session, result.reason) == (session, "reverify-deferred")
        assert await store.get(session.id, time.time()) is not None
    else:
        assert (result.session, result.reason) == (None, "reverify-failed")


async def test_without_a_refresh_token_userinfo_re_verifies(rogue: RogueProvider, rogue_client: ClientFactory) -> None:
    rogue.userinfo_body = {"sub": "alice", "groups": ["staff"], "acr": "none"}
    result, _ = await _run(rogue_client, _session(rogue, refresh_token=None))
    assert rogue.token_requests == []
    assert result.reason == "groups-changed"
    assert result.session.identity.groups == ("staff",)
    assert result.session.identity.acr == "mfa"  # userinfo can never set acr


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        pytest.param(401, {"error": "invalid_token"}, "reverify-failed", id="token-refused"),
        pytest.param(200, {"sub": "mallory"}, "refresh-identity-mismatch", id="someone-else"),
    ],
)
async def test_userinfo_refusals_end_it(
    rogue: RogueProvider, rogue_client: ClientFactory, status: int, body: dict[str, Any], reason: str
) -> None:
    rogue.userinfo_status, rogue.userinfo_body = status, body
    result, _ = await _run(rogue_client, _session(rogue, refresh_token=None))
    assert (result.session, result.reason) == (None, reason)


async def test_after_an_outage_the_provider_is_not_asked_again_at_once(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.token_status, rogue.token_body = 503, "down"
    client = await rogue_client(outage_grace="1h")
    store = MemorySessionStore(idle_timeout=86400)
    coordinator = RefreshCoordinator(store, 60.0)
    results = []
    for _ in range(3):
        session = _session(rogue)
        await store.create(session)
        results.append(await reverify(session, client, coordinator, store, reverify_every=INTERVAL))
    assert [r.reason for r in results] == ["reverify-deferred"] * 3
    assert len(rogue.token_requests) == 1  # the first one found the outage


async def test_without_a_refresh_token_nor_userinfo_there_is_nothing_to_ask(
    rogue: RogueProvider, rogue_client: ClientFactory
) -> None:
    rogue.discovery_overrides["userinfo_endpoint"] = DROP
    client = await rogue_client()
    await client.load()
    store = MemorySessionStore(idle_timeout=86400)
    session = _session(rogue, refresh_token=None)
    await store.create(session)
    result = await reverify(session, client, RefreshCoordinator(store, 60.0), store, reverify_every=INTERVAL)
    assert (result.session, result.reason) == (session, None)
    assert (rogue.token_requests, rogue.userinfo_requests) == ([], [])
