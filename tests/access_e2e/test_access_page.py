"""`/.authgate/access` without a browser: sign-in first, CSRF, refusals, step-up, records."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import pytest
import pytest_asyncio

from tests.access_e2e.conftest import AccessGateway, signed_in
from tests.testbed.gateway import Gateway

ACCESS = "/.authgate/access"


@pytest.fixture
def gateway(access_gateway: AccessGateway) -> Gateway:
    return access_gateway()


@pytest_asyncio.fixture
async def bob(gateway: Gateway) -> AsyncIterator[aiohttp.ClientSession]:
    async with signed_in(gateway, "bob", "bob-password", ACCESS) as http:
        yield http


async def token_of(http: aiohttp.ClientSession, gateway: Gateway) -> str:
    async with http.get(f"{gateway.url}{ACCESS}") as page:
        assert page.status == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert found is not None
    return found.group(1)


async def post(http: aiohttp.ClientSession, gateway: Gateway, **form: str) -> tuple[int, dict[str, str], str, str]:
    headers = {"Origin": gateway.url}
    async with http.post(f"{gateway.url}{ACCESS}", data=form, headers=headers, allow_redirects=False) as answer:
        return answer.status, dict(answer.headers), await answer.text(), answer.headers["X-Request-Id"]


def records_of(gateway: Gateway, request_id: str, count: int) -> list[dict[str, Any]]:
    """The records with this request id (the request's own and its events'), polled."""
    deadline = time.monotonic() + 5
    while True:
        found = [r for r in gateway.decisions(0) if r["request_id"] == request_id]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


async def test_anonymous_is_sent_to_sign_in_and_back(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.url}{ACCESS}", allow_redirects=False) as answer:
            assert answer.status == 302
            assert answer.headers["Location"] == "/.authgate/start?rd=%2F.authgate%2Faccess"
            record = gateway.record(answer.headers["X-Request-Id"])
    assert (record["decision"], record["reason"]) == ("login", "user-unauthenticated")


async def test_a_form_without_its_token_or_from_another_site_changes_nothing(
    gateway: Gateway, bob: aiohttp.ClientSession
) -> None:
    ask = {"action": "request", "entitlement": "db-admin", "duration": "5s", "reason": "x"}
    status, _, _, rid = await post(bob, gateway, **ask)
    assert status == 403 and gateway.record(rid)["reason"] == "csrf-invalid"
    token = await token_of(bob, gateway)
    async with bob.post(
        f"{gateway.url}{ACCESS}", data={**ask, "csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False,
    ) as answer:  # fmt: skip
        assert answer.status == 403
        assert gateway.record(answer.headers["X-Request-Id"])["reason"] == "csrf-cross-site"
    async with bob.get(f"{gateway.url}{ACCESS}") as page:
        assert "You hold no grants" in await page.text()


async def test_refusals_are_403_with_the_reason_and_a_record(gateway: Gateway, bob: aiohttp.ClientSession) -> None:
    token = await token_of(bob, gateway)
    cases: list[tuple[dict[str, str], str, str]] = [
        ({"duration": "forever", "reason": "x"}, "duration-invalid", "not a duration"),
        ({"duration": "1h", "reason": "x"}, "duration-too-long", "lasts at most 8s"),
        ({"duration": "5s", "reason": " "}, "reason-required", "give a reason"),
        ({"duration": "5s", "reason": "x", "entitlement": "root"}, "entitlement-unknown", "no entitlement"),
    ]
    for fields, code, words in cases:
        form = {"csrf_token": token, "action": "request", "entitlement": "db-admin", **fields}
        status, _, body, rid = await post(bob, gateway, **form)
        assert status == 403 and words in body and rid in body
        record = gateway.record(rid)
        assert (record["reason"], record["rule"], record["user"]) == ("grant-refused", f"endpoint:access:{code}", "bob")


async def test_a_request_is_a_303_and_its_record_names_the_grant(gateway: Gateway, bob: aiohttp.ClientSession) -> None:
    token = await token_of(bob, gateway)
    form = {"csrf_token": token, "action": "request", "entitlement": "db-admin", "duration": "5s", "reason": "INC-1"}
    status, headers, _, rid = await post(bob, gateway, **form)
    assert status == 303
    grant_id = parse_qs(urlsplit(headers["Location"]).query)["grant"][0]
    mine = records_of(gateway, rid, 2)
    record = next(r for r in mine if r["method"] == "POST")  # the request's own record
    assert (record["status"], record["grant"]["id"], record["grant"]["event"]) == (303, grant_id, "request")
    events = [r for r in mine if r["reason"] == "grant-requested"]  # the event's, same request id
    assert len(events) == 1 and events[0]["grant"]["reason"] == "INC-1"
    async with bob.put(f"{gateway.url}{ACCESS}", allow_redirects=False) as answer:
        assert answer.status == 405 and answer.headers["Allow"] == "GET, HEAD, POST"


async def test_break_glass_with_an_old_or_weak_login_is_sent_to_a_fresh_sign_in(
    gateway: Gateway, bob: aiohttp.ClientSession
) -> None:
    token = await token_of(bob, gateway)
    form = {"csrf_token": token, "action": "break-glass", "entitlement": "db-admin", "duration": "5s", "reason": "down"}
    status, headers, _, rid = await post(bob, gateway, **form)
    assert status == 303
    target = urlsplit(headers["Location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert target.path == "/.authgate/start"
    assert (query["step_up"], query["max_age"], query["acr_values"]) == ("1", "300", "mfa")
    assert unquote(query["rd"]) == f"{ACCESS}?entitlement=db-admin&step_up=break-glass"
    record: dict[str, Any] = gateway.record(rid)
    assert (record["decision"], record["status"]) == ("step_up", 303)
    async with bob.get(f"{gateway.url}{ACCESS}") as page:
        assert "You hold no grants" in await page.text()  # nothing granted yet
