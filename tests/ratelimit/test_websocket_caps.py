"""Concurrent WebSocket caps: all claims or none, given back however the block ends."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from authgate.ratelimit.websocket_caps import Cap, CapReached, Claim, WebSocketCaps, claims_for


def claims(user: str | None = "alice", ip: str = "192.0.2.1", route: int | None = 10) -> tuple[Claim, ...]:
    return claims_for("chat", route, user, 2, ip, 3)


def test_each_cap_refuses_past_its_limit() -> None:
    caps = WebSocketCaps()
    with ExitStack() as open_:
        open_.enter_context(caps.hold(claims()))
        open_.enter_context(caps.hold(claims()))
        with pytest.raises(CapReached) as full:
            open_.enter_context(caps.hold(claims()))
        assert full.value.claim.cap is Cap.USER
        open_.enter_context(caps.hold(claims(user="bob")))  # another user, same address
        with pytest.raises(CapReached) as full:
            open_.enter_context(caps.hold(claims(user="carol")))
        assert full.value.claim.cap is Cap.CLIENT_IP
        # nothing was taken by the refusals
        assert caps.count(Cap.USER, "carol") == 0 and caps.count(Cap.CLIENT_IP, "192.0.2.1") == 3
    assert caps.count(Cap.ROUTE, "chat") == 0  # all given back


def test_route_cap_and_anonymous_upgrades() -> None:
    caps = WebSocketCaps()
    with caps.hold(claims(user=None, route=1)):
        with pytest.raises(CapReached) as full:
            with caps.hold(claims(user=None, ip="192.0.2.9", route=1)):
                pass
        assert full.value.claim.cap is Cap.ROUTE


def test_places_are_given_back_on_errors() -> None:
    caps = WebSocketCaps()
    with pytest.raises(RuntimeError):
        with caps.hold(claims()):
            raise RuntimeError("relay failed")
    assert caps.count(Cap.USER, "alice") == 0


def test_ipv6_counts_by_its_64() -> None:
    caps = WebSocketCaps()
    with ExitStack() as open_:
        for host in range(3):
            open_.enter_context(caps.hold(claims(user=None, ip=f"2001:db8:1:2::{host + 1}")))
        with pytest.raises(CapReached):
            open_.enter_context(caps.hold(claims(user=None, ip="2001:db8:1:2:ffff::1")))
        open_.enter_context(caps.hold(claims(user=None, ip="2001:db8:1:3::1")))


def test_none_counts_without_a_cap() -> None:
    caps = WebSocketCaps()
    with ExitStack() as open_:
        for _ in range(5):
            open_.enter_context(caps.hold(claims_for("chat", None, "alice", None, "192.0.2.1", None)))
        assert caps.count(Cap.USER, "alice") == 5
