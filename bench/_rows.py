"""What `bench/http_bench.py` measures: its rows, the gateway rows' shape, and the targets.

A row is a name the report and `--only` use. Gateway rows are `authgate-<kind>-<N>w`
(the aiohttp data plane) and the same with `-native` (`server.data_plane: native`):

* `mem`, `redis`: the AUTHENTICATED path (session cookie from a real login, a
  three-criterion policy, per-user rate limit, GeoIP City lookup, identity headers
  and assertion, decision log to a file) on the memory or the Redis store;
* `public`: the route's every path is `public` (no login, decided `route-public`),
  with the same decision record to a file, a rate limit (per client IP: there is
  no user) and GeoIP City lookup as the authenticated rows;
* `bare`: every optional stage the config lets an operator turn off, off (BARE_OFF
  says which, and what stays on because the config cannot turn it off).

Targets are ratios within one run, each row against a baseline row of that run
(per round, then the median over rounds), so drift on a shared box cancels.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Literal

BASELINES: dict[str, str] = {
    "direct": "the upstream alone (aiohttp+uvloop, 2 processes)",
    "nginx": "nginx 2 workers, proxy_pass + keepalive, no auth",
    "caddy": "Caddy reverse_proxy, no auth",
    "probe": "bench/probe_relay.py: uvloop + httptools relay, keep-alive pool, 1 process",
    "aiohttp-proxy-1w": "bare aiohttp+uvloop proxy, 1 process, no auth",
    "aiohttp-proxy-2w": "bare aiohttp+uvloop proxy, 2 processes, no auth",
}

Kind = Literal["public", "bare", "mem", "redis"]
DataPlane = Literal["aiohttp", "native"]
KIND_TEXT: dict[str, str] = {
    "public": "public route (no login; decision log, rate limit, GeoIP)",
    "bare": "bare: every optional stage off",
    "mem": "authenticated path, memory store",
    "redis": "authenticated path, Redis store",
}

# What the `bare` rows turn off, as the config says it (docs/performance.md repeats it).
BARE_OFF = (
    "`public: [\"/**\"]` (no login, no session lookup, no policy criteria), no `rate_limit`, "
    "no `geoip`, `decision_log.sinks: []` (no file, no stdout), `limits.login: null`, "
    "`limits.regulation: null`, `limits.max_inflight_per_upstream: null` (no shedding), "
    "`server.timeouts.body_min_rate: 0`, `server.watch_config: false`, no providers, "
    "no `adaptive`, no device posture, no identity headers (nobody to name). Still on, "
    "because the config cannot turn it off: the per-IP connection cap (set to 65536), the "
    "listener timeouts, request-id, spoofed-header stripping, X-Forwarded-*, route "
    "matching and path normalization, the decision itself, and building and serializing "
    "the decision record (the writer serializes it even with no sink)."
)


@dataclass(frozen=True)
class Gateway:
    kind: Kind
    workers: int
    data_plane: DataPlane

    @property
    def name(self) -> str:
        suffix = "-native" if self.data_plane == "native" else ""
        return f"authgate-{self.kind}-{self.workers}w{suffix}"

    @property
    def logs_in(self) -> bool:
        return self.kind in ("mem", "redis")

    @property
    def logs_decisions(self) -> bool:
        return self.kind != "bare"

    @property
    def text(self) -> str:
        workers = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        return f"authgate {self.data_plane} data plane, {KIND_TEXT[self.kind]}, {workers}"


_SHAPES: list[tuple[Kind, int]] = [("public", 1), ("bare", 1), ("mem", 1), ("redis", 1), ("redis", 2)]
GATEWAYS: dict[str, Gateway] = {
    g.name: g
    for kind, workers in _SHAPES
    for g in (Gateway(kind, workers, "native"), Gateway(kind, workers, "aiohttp"))
}
ROWS: dict[str, str] = {**BASELINES, **{name: g.text for name, g in GATEWAYS.items()}}


def select(patterns: list[str] | None) -> list[str]:
    """The rows `--only` names (names or shell globs, comma-separated), in run order."""
    if not patterns:
        return list(ROWS)
    wanted = [p.strip() for item in patterns for p in item.split(",") if p.strip()]
    unknown = [p for p in wanted if not fnmatch.filter(ROWS, p)]
    if unknown:
        raise SystemExit(f"unknown row(s) {unknown}; known: {', '.join(ROWS)}")
    return [n for n in ROWS if any(fnmatch.fnmatchcase(n, p) for p in wanted)]


@dataclass(frozen=True)
class Goal:
    """`row`'s metric over `baseline`'s, median over rounds, held to `op` `bound`."""

    row: str
    baseline: str
    metric: Literal["cpu", "rps"]
    op: Literal["<=", ">="]
    bound: float
    text: str

    def met(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound

    @property
    def fallback(self) -> str:
        """The aiohttp row of the same shape, shown when the native one did not run."""
        return re.sub(r"-native$", "", self.row)


# The targets (probe: 0.27× Caddy's CPU per request; 26-33 µs/req).
GOALS: list[Goal] = [
    Goal("authgate-public-1w-native", "caddy", "cpu", "<=", 0.5,
         "public route, 1 worker: CPU per request vs Caddy"),
    Goal("authgate-public-1w-native", "caddy", "rps", ">=", 1.0,
         "public route, 1 worker: req/s vs Caddy"),
    Goal("authgate-bare-1w-native", "probe", "cpu", "<=", 1.3,
         "bare data plane, 1 worker: CPU per request vs the probe"),
]

# (numerator, denominator, req/s target or None, what) — the older DESIGN.md ratios.
RATIOS: list[tuple[str, str, float | None, str]] = [
    ("authgate-redis-2w", "caddy", 1.0, "authenticated, 2 workers vs Caddy (no auth)"),
    ("authgate-redis-2w", "aiohttp-proxy-2w", 0.9, "authenticated, 2 workers vs bare aiohttp proxy 2 workers"),
    ("authgate-mem-1w", "aiohttp-proxy-1w", 0.9, "authenticated, 1 worker (memory) vs bare aiohttp proxy 1 worker"),
    ("authgate-redis-1w", "authgate-mem-1w", 0.8, "Redis store vs memory store, 1 worker"),
    ("aiohttp-proxy-2w", "caddy", None, "bare aiohttp proxy 2 workers vs Caddy (for scale)"),
    ("authgate-redis-2w", "authgate-redis-1w", None, "2 workers vs 1 worker, Redis store"),
]
NATIVE_RATIOS = [
    (f"{a}-native" if a in GATEWAYS else a, f"{b}-native" if b in GATEWAYS else b, goal,
     f"native: {what}")
    for a, b, goal, what in RATIOS[:4]
]
