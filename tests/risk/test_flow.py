"""The risk loop on both stores: assess, step up, acknowledge, record — as the gateway will.

London at 09:00, Sydney at 09:10 (a VPN exit in Sydney, say): step-up. After the
step-up the same session is allowed and recorded; a new session later is allowed too,
because what was new is now known.
"""

from __future__ import annotations

from authgate.config.schema_adaptive import AdaptiveConfig
from authgate.geo.facts import GeoFacts
from authgate.risk.assess import Assessment, assess
from authgate.risk.history import HistoryStore, user_key, worth_recording
from authgate.risk.model import Location
from authgate.risk.rules import compile_rules
from authgate.risk.signal import Signal
from tests.risk.conftest import LONDON, SYDNEY
from tests.testbed.clock import FakeClock

ALICE = user_key("corp", "alice")
RULES = compile_rules(AdaptiveConfig(), "workforce")


async def request(
    store: HistoryStore, now: float, geo: GeoFacts, session: str, device: str = "laptop"
) -> Assessment:
    """One request through the risk steps; allowed ones are recorded."""
    history = await store.get(ALICE, now, session_id=session, client_ip="198.51.100.7")
    result = assess(now, geo, device, history, RULES, client_ip="198.51.100.7")
    location = Location.from_geo(geo, now)
    if result.outcome == "allow" and worth_recording(history, location, device, now):
        await store.record_allowed(ALICE, location, device, now)
    return result


async def test_step_up_then_allowed(store: HistoryStore, clock: FakeClock) -> None:
    assert (await request(store, clock.now, LONDON, "s1")).outcome == "allow"
    sydney = await request(store, clock.advance(600), SYDNEY, "s1")
    assert sydney.outcome == "step_up"
    assert sydney.signals == (Signal.NEW_COUNTRY, Signal.IMPOSSIBLE_TRAVEL)

    # The step-up succeeded: a fresh login made session s2; its signals are cleared.
    await store.acknowledge(ALICE, "s2", sydney.signals, clock.now, clock.now + 8 * 3600)
    assert (await request(store, clock.advance(5), SYDNEY, "s2")).outcome == "allow"
    # An old session elsewhere gains nothing from s2's step-up...
    assert (await request(store, clock.advance(5), LONDON, "s1")).outcome == "step_up"
    # ...while a new session in Sydney next day finds Sydney known.
    assert (await request(store, clock.advance(86400), SYDNEY, "s3")).outcome == "allow"


async def test_refused_requests_teach_nothing(store: HistoryStore, clock: FakeClock) -> None:
    await request(store, clock.now, LONDON, "s1")
    for _ in range(3):  # an attacker in Sydney keeps trying, never stepping up
        assert (await request(store, clock.advance(60), SYDNEY, "x", "evil")).outcome != "allow"
    history = await store.get(ALICE, clock.now)
    assert history.countries == {"GB"} and history.devices == {"laptop"}
