"""The access page's sections: escaped values, the forms a user may use, no own approvals."""

from __future__ import annotations

import dataclasses

from authgate.access.model import GrantState
from authgate.config.schema_access import EntitlementConfig
from authgate.access.model import span
from authgate.server.access_view import AccessView, access_sections
from tests.access.conftest import requested
from tests.testbed.clock import FakeClock

DB = EntitlementConfig.model_validate({"max_duration": "1h", "approvers": {"groups": ["x"]}, "break_glass": {"users": ["b"]}})


def view(**changes: object) -> AccessView:
    base: dict[str, object] = dict(
        csrf_token='t"ok', now=FakeClock().now, requestable={"db-admin": DB}, break_glass={},
        routes=["db"], mine=[], waiting=[], revocable=[],
    )  # fmt: skip
    return AccessView(**{**base, **changes})  # type: ignore[arg-type]


def test_user_text_is_escaped_everywhere() -> None:
    clock = FakeClock()
    evil = dataclasses.replace(requested(clock), reason="<script>alert(1)</script>", user='"><img src=x>')
    html = access_sections(view(waiting=[evil]))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&quot;&gt;&lt;img src=x&gt;" in html
    assert 'value="t&quot;ok"' in html  # the token is an attribute value


def test_forms_follow_what_the_user_may_do() -> None:
    assert 'id="request-submit"' in access_sections(view())
    assert 'id="break-glass-submit"' not in access_sections(view())
    assert 'id="break-glass-submit"' in access_sections(view(break_glass={"db-admin": DB}))
    nothing = access_sections(view(requestable={}))
    assert "nothing you may request" in nothing and 'id="request-submit"' not in nothing


def test_own_grants_offer_withdraw_and_give_up() -> None:
    clock = FakeClock()
    asked = requested(clock)
    active = requested(clock).activated(clock.now, "alice")
    html = access_sections(view(mine=[asked, active]))
    assert f'id="deny-{asked.id}">Withdraw' in html and f'id="revoke-{active.id}">Give up' in html
    assert active.status_at(clock.now) is GrantState.ACTIVE


def test_span() -> None:
    assert [span(s) for s in (3600, 1800, 45, 90.5)] == ["1h", "30m", "45s", "90.5s"]
