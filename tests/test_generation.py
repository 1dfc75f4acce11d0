"""`build_generation`: what a new config generation reuses from the previous one.

The rule (`authgate.generation.RESOURCES`): a resource is kept while every config
value it reads is unchanged, and built anew when any of them changed; an OIDC client
is kept while its provider is unchanged; the upstream gates are always kept. Each row
below changes one thing in a config that has every resource and says which resources
the next generation builds anew; everything else must be the very same object.
Real snapshots from files, real resources (memory stores, `.mmdb` readers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from authgate.config.snapshot import build_snapshot
from authgate.generation import RESOURCES, Generation, build_generation, dropped
from authgate.server.auth_state import AuthRuntime
from tests.geo.conftest import CITY_RECORDS, build_mmdb
from tests.testbed.login_gateway import COOKIE_SECRET

Config = dict[str, Any]
Change = Callable[[Config], None]


def provider(provider_id: str) -> Config:
    return {"id": provider_id, "issuer": f"http://127.0.0.1:9/{provider_id}", "client_id": "gw"}


def heard(provider_id: str, **signals: Any) -> Config:
    """A provider with a Shared Signals transmitter."""
    return {**provider(provider_id), "signals": {"transmitter": "http://127.0.0.1:9/tx", **signals}}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A config with every resource: sessions, keys, two providers, GeoIP, devices,
    a route that scores risk (so a history store), login regulation."""
    return {
        "server": {"state_dir": str(tmp_path / "state")},
        "secrets": {"cookie_secret": [COOKIE_SECRET], "assertion_keys": str(tmp_path / "k.pem")},
        "providers": [heard("corp"), provider("shop")],
        "geoip": {"city": str(build_mmdb(tmp_path / "city.mmdb", CITY_RECORDS))},
        "devices": {
            "posture": {
                "issuer": "https://mdm.example.com",
                "jwks_uri": "http://127.0.0.1:9/jwks",
                "audience": "authgate",
                "header": "X-Device-Posture",
            },
            "known_device_cookie": {"name": "device"},
        },
        "decision_log": {"sinks": [{"file": str(tmp_path / "decisions.jsonl")}]},
        # A tracer provider with its exporter (nothing is sent: no request is traced).
        "observability": {"tracing": {"enabled": True, "endpoint": "http://127.0.0.1:9/v1/traces"}},
        "routes": [
            {
                "id": "app",
                "match": {"host": "app.test"},
                "upstream": "http://127.0.0.1:9",
                "adaptive": {},
                "headers": {"X-Who": "{claims.sub}"},
            }
        ],
    }


@pytest_asyncio.fixture
async def idp_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


Build = Callable[[Config, Generation | None], Generation]


@pytest.fixture
def build(tmp_path: Path, idp_http: aiohttp.ClientSession) -> Build:
    def make(config: Config, previous: Generation | None) -> Generation:
        path = tmp_path / f"authgate-{previous.number + 1 if previous else 0}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return build_generation(build_snapshot(path), previous, idp_http=idp_http)

    return make


def parts(auth: AuthRuntime) -> dict[str, object]:
    """Each resource of `RESOURCES` (and the pieces that go with it), by name."""
    return {
        "store": auth.store,
        "events": auth.events,
        "refresher": auth.refresher,
        "assertion_keys": auth.assertion_keys,
        "signer": auth.signer,
        "limiter": auth.guards.limiter,
        "regulator": auth.guards.regulator,
        "geo": auth.geo,
        "history": auth.history,
        "posture": auth.posture,
        "known_devices": auth.known_devices,
        "access": auth.access.store,
        "grant_cache": auth.access.cache,
        "webhook": auth.access.webhook,
        "tracing": auth.tracing,
        **{f"oidc:{pid}": client for pid, client in auth.oidc.items()},
        **{f"signals:{pid}": transmitter for pid, transmitter in auth.signals.items()},
        # An OIDC client's introspection cache goes with it (cached answers survive a
        # reload that leaves the provider alone, docs/agents.md).
        **{f"introspection:{pid}": c.introspection_cache for pid, c in auth.oidc.items()},
    }


def rebuilt(old: Generation, new: Generation) -> set[str]:
    before, after = parts(old.auth), parts(new.auth)
    return {name for name, part in after.items() if before.get(name) is not part}


def set_in(*path: str, value: Any) -> Change:
    def change(config: Config) -> None:
        target = config
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value

    return change


def add_route(config: Config) -> None:
    route = {**config["routes"][0], "id": "two", "match": {"host": "two.test"}}
    config["routes"].append({**route, "rate_limit": {"key": "client_ip", "rate": "5/m", "burst": 5}})


def no_adaptive(config: Config) -> None:
    del config["routes"][0]["adaptive"]


RULES: list[tuple[str, Change, set[str]]] = [
    # Routes, their policies, headers and limits: compiled anew, every resource kept
    # (rate-limit counters survive).
    ("a new route", add_route, set()),
    ("server.trusted_proxies", set_in("server", "trusted_proxies", value=["10.0.0.0/8"]), set()),
    ("pages", set_in("pages", "title", value="Example"), set()),
    ("headers.preset", set_in("headers", "preset", value="authelia"), set()),
    ("limits.max_inflight_per_upstream", set_in("limits", "max_inflight_per_upstream", value=3), set()),
    # The store, with the refresh coordinator that uses it.
    ("sessions", set_in("sessions", "idle_timeout", value="1h"), {"store", "refresher"}),
    (
        "secrets",
        set_in("secrets", "cookie_secret", value=[COOKIE_SECRET + "-rotated"]),
        {"store", "refresher", "assertion_keys", "signer", "known_devices"},
    ),
    (
        "store",
        set_in("store", "key_prefix", value="other:"),
        {"store", "refresher", "events", "limiter", "regulator", "history", "access", "grant_cache"},
    ),
    # Privileged access: the grant store (and its cache) by the store (a kept store takes
    # the new retention); the webhook by its own block; the entitlements where used.
    ("access.retention", set_in("access", "retention", value="1d"), set()),
    ("access.webhook", set_in("access", "webhook", value={"url": "http://127.0.0.1:9/hook"}), {"webhook"}),
    (
        "entitlements",
        set_in("entitlements", value={"db-admin": {"max_duration": "1h", "approvers": {"groups": ["x"]}}}),
        set(),
    ),
    ("server.state_dir", set_in("server", "state_dir", value="/tmp/other-state"), {"assertion_keys", "signer"}),
    ("limits.regulation", set_in("limits", "regulation", value={"max_failures": 9}), {"regulator"}),
    ("geoip", set_in("geoip", "cache_size", value=10), {"geo"}),
    ("risk_history", set_in("risk_history", "max_countries", value=3), {"history"}),
    ("no route scores risk", no_adaptive, {"history"}),
    ("devices.posture", set_in("devices", "posture", "audience", value="other"), {"posture"}),
    ("devices.known_device_cookie", set_in("devices", "known_device_cookie", "name", value="d2"), {"known_devices"}),
    ("observability.tracing", set_in("observability", "tracing", "ratio", value=0.5), {"tracing"}),
    ("one provider", set_in("providers", value=[heard("corp"), {**provider("shop"), "client_id": "x"}]), {"oidc:shop", "introspection:shop"}),
    # A transmitter (its metadata and JWKS cache) goes with its provider's config.
    ("a provider's signals", set_in("providers", value=[heard("corp", max_age="5m"), provider("shop")]),
     {"oidc:corp", "signals:corp", "introspection:corp"}),
    ("signals added", set_in("providers", value=[heard("corp"), heard("shop")]), {"oidc:shop", "signals:shop", "introspection:shop"}),
    (
        "a provider's introspection cache bounds",
        set_in("providers", value=[heard("corp"), {**provider("shop"), "introspection": {"cache_size": 5}}]),
        {"oidc:shop", "introspection:shop"},
    ),
]


@pytest.mark.parametrize(("change", "expected"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
async def test_a_change_rebuilds_what_reads_it_and_keeps_the_rest(
    build: Build, config: Config, change: Change, expected: set[str]
) -> None:
    first = build(config, None)
    change(config)
    second = build(config, first)
    assert rebuilt(first, second) == expected
    assert second.number == first.number + 1


async def test_every_resource_of_the_auth_half_has_a_rule() -> None:
    """A new field of AuthRuntime must be sorted: a resource with a reuse rule, a part
    that goes with one, or a value compiled for every generation."""
    goes_with = {"keys", "cipher", "refresher", "signer", "oidc", "signals", "guards"}
    compiled = {"templates", "header_budgets", "dpop_nonces"}
    fields = {f.name for f in dataclasses.fields(AuthRuntime)}
    assert fields == (set(RESOURCES) - {"limiter", "regulator", "webhook"}) | goes_with | compiled


async def test_policies_and_templates_are_compiled_once_and_shared(
    build: Build, config: Config
) -> None:
    generation = build(config, None)
    compiled = generation.snapshot.compiled
    assert generation.server.policies is compiled.policies
    assert generation.auth.templates is compiled.templates
    assert set(compiled.policies) == set(compiled.templates) == {"app"}


async def test_the_gates_are_kept_and_take_the_new_cap(build: Build, config: Config) -> None:
    first = build(config, None)
    gate = first.auth.guards.gates.gate("upstream:80")
    assert gate.try_enter()  # a request of the first generation, in flight
    set_in("limits", "max_inflight_per_upstream", value=1)(config)
    second = build(config, first)
    assert second.auth.guards.gates is first.auth.guards.gates
    assert (gate.max_inflight, gate.inflight) == (1, 1)
    assert not second.auth.guards.gates.gate("upstream:80").try_enter()  # counted against it


async def test_dropped_names_what_the_new_generation_no_longer_holds(
    build: Build, config: Config
) -> None:
    first = build(config, None)
    set_in("store", "key_prefix", value="other:")(config)
    set_in("geoip", "cache_size", value=10)(config)
    set_in("observability", "tracing", "service_name", value="edge")(config)
    second = build(config, first)
    auth = first.auth
    expected = [
        auth.store, auth.access.store, auth.access.cache, auth.events, auth.guards.limiter,
        auth.guards.regulator, auth.history, auth.geo, auth.tracing,
    ]
    assert [id(item) for item in dropped(first, second)] == [id(item) for item in expected]
    assert dropped(second, build(config, second)) == []
