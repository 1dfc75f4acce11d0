"""Fixtures of the risk tests: the history store twice (memory, real Redis), places.

`store` is the contract suite's subject: the memory store and the Redis store on the
session's `redis_server`, each Redis test under a key prefix of its own. Both take
`now` from the caller, so expiry tests move `clock` instead of sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from authgate.config.schema_adaptive import RiskHistoryConfig
from authgate.geo.facts import GeoFacts
from authgate.risk.history import HistoryStore
from authgate.risk.history_memory import MemoryHistoryStore
from authgate.risk.history_redis import RedisHistoryStore
from tests.testbed.clock import FakeClock

TTL, WINDOW = 30 * 86400.0, 900.0
LIMITS = RiskHistoryConfig(
    ttl=TTL, max_devices=3, max_countries=2, failed_login_window=WINDOW, memory_max_users=50
)

# Places (GeoFacts as the City database answers them).
LONDON = GeoFacts("GB", "London", latitude=51.5074, longitude=-0.1278, accuracy_km=20)
PARIS = GeoFacts("FR", "Paris", latitude=48.8566, longitude=2.3522, accuracy_km=20)
SYDNEY = GeoFacts("AU", "Sydney", latitude=-33.8688, longitude=151.2093, accuracy_km=50)
NEW_YORK = GeoFacts("US", "New York", latitude=40.7128, longitude=-74.006)
VPN_EXIT = GeoFacts(country="NL", is_anonymous=True, is_vpn=True)
TOR_EXIT = GeoFacts(is_anonymous=True, is_tor=True)
COUNTRY_ONLY_GB = GeoFacts(country="GB")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[HistoryStore]:
    built: HistoryStore
    if request.param == "memory":
        built = MemoryHistoryStore.from_config(LIMITS)
    else:
        server = request.getfixturevalue("redis_server")
        prefix = f"test:{uuid.uuid4().hex[:12]}:"
        built = RedisHistoryStore.from_url(server.url, LIMITS, prefix=prefix)
    yield built
    await built.close()
