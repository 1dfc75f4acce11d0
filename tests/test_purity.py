"""The pure core stays pure: importing it loads no I/O library (STYLE.md lesson 4).

Facts → decision must be evaluable without a network stack, so it can be unit-tested
as tables and timed in microseconds. Each module is imported in a fresh interpreter,
because this test process has aiohttp loaded by other tests.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import authgate.policy

PURE_MODULES = [
    "authgate.routing",
    "authgate.redirects",
    # templates and value encoding: config loading and `explain` compile templates
    "authgate.mutate.templates",
    "authgate.mutate.encoding",
    "authgate.mutate.header_budget",
    # login bookkeeping, claims mapping, discovery parsing, the error vocabulary
    "authgate.oidc",
    "authgate.oidc.errors",
    "authgate.oidc.flow",
    "authgate.oidc.claims",
    "authgate.oidc.metadata",
    # the adaptive core: signals, score, history model; geo and device facts
    "authgate.config.schema_adaptive",
    "authgate.geo.facts",
    "authgate.geo.records",
    "authgate.risk.signal",
    "authgate.risk.model",
    "authgate.risk.rules",
    "authgate.risk.signals",
    "authgate.risk.score",
    "authgate.risk.assess",
    "authgate.risk.history",
    "authgate.risk.history_codec",
    "authgate.device.facts",
    # rate limits: the algorithm, keys, headers, memory limiter and regulator
    "authgate.ratelimit",
    "authgate.ratelimit.gcra",
    "authgate.ratelimit.keys",
    "authgate.ratelimit.headers",
    "authgate.ratelimit.limiter",
    "authgate.ratelimit.regulation",
    "authgate.ratelimit.shedding",
    "authgate.ratelimit.route_limits",
    "authgate.config.schema_limits",
    "authgate.config.schema_policy",
    # the whole policy package: compile, evaluate, criteria, explain
    *sorted(
        info.name
        for info in pkgutil.walk_packages(authgate.policy.__path__, "authgate.policy.")
    ),
    "authgate.policy",
    "authgate.client_ip",
    "authgate.decision",
    "authgate.decide",
    "authgate.outcomes",
    "authgate.facts",
    "authgate.identity",
    "authgate.request_id",
    # WebSocket guards: Origin, handshake, caps, their schema
    "authgate.origins",
    "authgate.proxy.handshake",
    "authgate.ratelimit.websocket_caps",
    "authgate.config.schema_websocket",
    # client headers: what is stripped, duplicated credentials, opted-in overrides
    "authgate.mutate.spoofed",
    "authgate.mutate.cookies",
    "authgate.credentials",
    "authgate.overrides",
    # the connection level's policy: limits, timers, the peer table, refusals
    "authgate.conn",
    "authgate.conn.limits",
    "authgate.conn.clock",
    "authgate.conn.peers",
    "authgate.conn.refusals",
    "authgate.conn.absolute_form",
    "authgate.conn.timer",
    "authgate.conn.linger",
    "authgate.config.schema_listener",
    # the request as read from the wire: what every stage reads instead of aiohttp's
    "authgate.wire",
    # Shared Signals: what an event means and whom it names, and its config
    "authgate.signals.events",
    "authgate.signals.subjects",
    "authgate.config.schema_signals",
    # bearer routes as OAuth protected resources: where a resource is, its challenges
    "authgate.config.schema_bearer",
    "authgate.resource.identifier",
    "authgate.resource.challenge",
    # continuous evaluation: when a session is re-verified, the re-evaluation counts
    "authgate.continuous",
    "authgate.continuous.interval",
    "authgate.continuous.tally",
    # tracing's interface and the W3C traceparent rules (the SDK only when enabled)
    "authgate.tracing",
    "authgate.tracing.traceparent",
    "authgate.config.schema_observability",
]
IO_LIBRARIES = {
    "aiohttp", "redis", "authlib", "jwt", "yarl", "multidict", "cryptography", "maxminddb",
    "opentelemetry",
}


@pytest.mark.parametrize("module", PURE_MODULES)
def test_module_imports_no_io_library(module: str) -> None:
    probe = (
        f"import {module}, sys; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(IO_LIBRARIES)!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
