"""HTTP throughput, CPU per request and latency of authgate against its baselines.

Usage:  .venv/bin/python bench/http_bench.py [--duration 5] [--connections 64]
            [--repeat 3] [--only NAME|GLOB[,...]] [--rate 1000,200] [--rate-seconds 3]
            [--profile SECONDS] [--gateway-env KEY=VALUE] [--tracing [RATIO]] [--no-write] [--keep]
        make bench                     (the same with the defaults)
        make bench BENCH_ARGS="--only caddy,probe,'authgate-public*' --repeat 1 --duration 2"

Starts, on loopback and all against ONE upstream, then measures with `wrk --latency`:

  direct             the upstream itself: a small aiohttp+uvloop app (2 processes,
                     SO_REUSEPORT) answering a ~100-byte body; the ceiling of the rest
  nginx              nginx (worker_processes 2) proxy_pass to it, keepalive 64
  caddy              Caddy `reverse_proxy` (GOMAXPROCS = cores), no auth
  probe              bench/probe_relay.py: GETs relayed on uvloop transports with
                     httptools parsers through a keep-alive upstream pool, 1 process;
                     the floor a Python data plane is held to
  aiohttp-proxy-1w   a bare aiohttp+uvloop reverse proxy (bench/_apps.py: one
  aiohttp-proxy-2w   ClientSession, streamed response, no auth), 1 and 2 processes
  authgate-<kind>-<N>w[-native]
                     `authgate serve`, server.workers N, on the aiohttp data plane or
                     (`-native`) on `server.data_plane: native`; kinds (bench/_rows.py):
    public           every path public: no login, the decision log to a file, a
                     per-client-IP rate limit that never refuses, GeoIP City lookup
    bare             every optional stage the config can turn off, off (_rows.BARE_OFF)
    mem, redis       the AUTHENTICATED path on the memory / Redis store (below);
                     redis with 1 and 2 workers (memory is refused with more than one)

The `-native` rows run only when the authgate that `serve` runs has `data_plane` in
`authgate.config.schema.ServerConfig.model_fields` (checked at start with the
gateways' environment); otherwise the bench says so and runs the aiohttp rows, which
then carry no `server.data_plane` key at all.

The authenticated rows: a session cookie from a real login at the test bed's OpenID
Provider (testbed/oidc, made once per gateway before wrk runs), a route whose policy
has three criteria (`and: [authenticated, groups: [bench], ip: [127.0.0.0/8]]`), a
per-user rate limit that never refuses (1000000/s), a GeoIP City database (MaxMind's
test file, so each request does a geo lookup), the signed identity assertion and
headers to the upstream, and the decision log to a file. Before measuring, the bench
checks each server: every proxy row (and the probe) answers a GET with 200 and the
upstream's exact body; logged-in gateways with the cookie 200 and that body, without
it 401; public and bare gateways 200 and that body with no cookie. After, it reads
the decision logs: one record per request (`allow`, for user `bench` or `route-public`).

Targets (bench/_rows.py GOALS, the issue's, as ratios within one run): G1 the public
route's native 1-worker CPU per request ≤ 0.5× Caddy's; G2 its req/s ≥ 1.0× Caddy's;
G3 the bare native 1-worker CPU per request ≤ 1.3× the probe's. The report marks each
PASS or MISS, next to the older DESIGN.md req/s ratios.

Rounds: each of --repeat rounds runs every configuration once for --duration seconds
(a --warmup run first, in the first round only), in the same order, so drift on a
shared machine hits all rows alike; a row reports the median of its rounds, and a
ratio is the median over rounds of the two rows' ratio within the round.

Fixed rate: wrk has no fixed-rate mode (wrk2 is not packaged), so latency at each
of --rate req/s (1000 and 200) is measured with bench/_fixedrate.py (an open-loop
asyncio client, service time from write to last byte), for --rate-seconds per row
after a 1 s warm-up. Each row also sends a quarter of that rate to the direct
upstream at the same ticks, and "added" is the row's percentile minus the
upstream's in those seconds. A
row that was overloaded at that rate (p50 over 10 ms, refusals) is marked.

CPU µs/req: user+system CPU time of the server's own processes (not wrk's, not the
upstream's) over the requests it answered. On a shared 2-core box it moves less than
req/s does, and it says what a request costs where req/s says how many fit.

--profile SECONDS: afterwards, record --profile-target (authgate-mem-1w) under wrk
load with py-spy (from PATH, the venv, or $PY_SPY) and print where the time goes.

Results are printed as Markdown and, unless --no-write, written into
docs/performance.md between the `bench:begin` / `bench:end` markers. Everything is
stopped at the end. Durations (5 s × 3 rounds, 1 s warm-up, 3 s per fixed rate) are
chosen so that all 16 rows take about 7.5 minutes; the 11 without `-native`, about 5.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _configs  # noqa: E402
import _fixedrate  # noqa: E402
import _rows  # noqa: E402
import _servers as sv  # noqa: E402

ROOT = sv.ROOT
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

CONFIGS = _rows.ROWS
GATEWAYS = _rows.GATEWAYS


# ---------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    raw: str = ""
    cpu_us: float = float("nan")  # CPU time of the server's processes per request


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not found:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def parse_wrk(output: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = sum(int(g) for g in sock.groups()) if sock else 0
    return WrkResult(rps, p50, p99, requests, int(non.group(1)) if non else 0, errors, output)


def wrk_command(url: str, args: argparse.Namespace, seconds: float, cookie: str | None) -> list[str]:
    argv = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s", "--latency",
        "--timeout", "5s",
    ]
    if cookie:
        argv += ["-H", f"Cookie: authgate={cookie}"]
    return [*argv, url + "/bench"]


def run_wrk(url: str, args: argparse.Namespace, seconds: float, cookie: str | None) -> WrkResult:
    argv = wrk_command(url, args, seconds, cookie)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise sv.BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


# ---------------------------------------------------------------- the run


@dataclass
class Target:
    name: str
    server: sv.Server
    cookie: str | None = None
    runs: list[WrkResult] = field(default_factory=list)
    rss: dict[str, float] | None = None
    decisions: int = 0
    requests_sent: int = 0
    last_records: list[dict[str, Any]] = field(default_factory=list)
    redis_calls: collections.Counter[str] = field(default_factory=collections.Counter)
    fixed: dict[float, dict[str, Any]] = field(default_factory=dict)  # rate -> result
    tally: collections.Counter[tuple[Any, ...]] = field(default_factory=collections.Counter)
    last_allow: dict[str, Any] | None = None
    checks: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-min load average around its runs

    @property
    def gateway(self) -> _rows.Gateway | None:
        return GATEWAYS.get(self.name)

    @property
    def logs_decisions(self) -> bool:
        return self.gateway is not None and self.gateway.logs_decisions


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wanted(args: argparse.Namespace, native: bool) -> list[str]:
    names = _rows.select(args.only)
    if not native:
        names = [n for n in names if not n.endswith("-native")]
    return names


def machine() -> dict[str, str]:
    import aiohttp
    import uvloop

    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    redis = "not installed"
    if shutil.which("redis-server"):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
        found = re.search(r"v=(\S+)", out)
        redis = found.group(1) if found else out.strip()
    node = "not installed"
    if shutil.which("node"):
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "code": revision + (" + uncommitted changes in src/" if dirty else ""),
        "cores": str(os.cpu_count()),
        "cpu": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "uvloop": uvloop.__version__,
        "nginx": sv.nginx_version(),
        "caddy": sv.caddy_version(),
        "wrk": re.sub(r"\s*\[.*", "", wrk.replace("wrk ", "")),
        "redis": redis,
        "node (OpenID Provider)": node,
    }


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def check_relay(target: Target, headers: dict[str, str], what: str) -> None:
    """200 and exactly the upstream's body, through this row's server."""
    from _apps import BODY

    status, body = get(target.server.url + "/bench", headers)
    if status != 200 or body != BODY:
        raise sv.BenchError(f"{target.name}: {what} got {status} {body[:200]!r}, not the upstream's")
    target.checks.append(f"{what}: 200 and the upstream's body")


def check_gateway(target: Target) -> None:
    """Logged in: with the cookie 200 and the upstream's body, without it 401 (3 times).
    Public and bare: 200 and the upstream's body with no cookie."""
    if target.cookie is None:
        check_relay(target, {}, "without a cookie (public route)")
        return
    check_relay(target, {"Cookie": f"authgate={target.cookie}"}, "with the session cookie")
    anonymous = [get(target.server.url + "/bench", {"Accept": "application/json"})[0]
                 for _ in range(3)]
    if anonymous != [401, 401, 401]:
        raise sv.BenchError(f"{target.name}: without the cookie got {anonymous}, not 401")
    target.checks.append("without it: 401, 401, 401")


def start_all(names: list[str], workdir: Path, stack: sv.Stack, args: argparse.Namespace,
              exits: contextlib.ExitStack, native: bool) -> dict[str, Target]:
    upstream = stack.add(sv.start_app("upstream", 2, workdir))
    targets: dict[str, Target] = {}
    for name in names:
        if name == "direct":
            targets[name] = Target(name, upstream)
        elif name == "nginx":
            targets[name] = Target(name, stack.add(sv.start_nginx(upstream.port, workdir)))
        elif name == "caddy":
            targets[name] = Target(name, stack.add(sv.start_caddy(upstream.port, workdir)))
        elif name == "probe":
            targets[name] = Target(name, stack.add(sv.start_probe(upstream.url, workdir)))
        elif name.startswith("aiohttp-proxy-"):
            server = stack.add(sv.start_app("proxy", int(name[-2]), workdir, upstream=upstream.url))
            targets[name] = Target(name, server)
        if name in targets and name != "direct":
            check_relay(targets[name], {}, "a GET")
    gateways = [GATEWAYS[n] for n in names if n in GATEWAYS]
    tracing: dict[str, Any] | None = None
    if args.tracing is not None and gateways:
        sink = stack.add(sv.start_app("otlp", 1, workdir))
        tracing = {"enabled": True, "endpoint": f"{sink.url}/v1/traces", "sampler": "ratio",
                   "ratio": args.tracing}
    provider = exits.enter_context(sv.oidc_provider(workdir)) if any(g.logs_in for g in gateways) else None
    redis = None
    if any(g.kind == "redis" for g in gateways):
        redis = stack.add(sv.start_redis(workdir))
        targets["_redis"] = Target("_redis", redis)
    for row in gateways:
        home = workdir / row.name
        home.mkdir(parents=True, exist_ok=True)
        redis_url = f"redis://127.0.0.1:{redis.port}/0" if row.kind == "redis" and redis else None
        config = _configs.gateway_config(
            row, port=sv.free_port(), upstream_port=upstream.port, workdir=home,
            provider=provider, redis_url=redis_url, geo=not args.no_geo, data_plane=native,
        )
        if tracing is not None:
            config["observability"] = {"tracing": tracing}
        server = stack.add(sv.start_authgate(row.name, config, home, env=gateway_env(args)))
        target = Target(row.name, server)
        if row.logs_in:
            target.cookie = asyncio.run(sv.log_in(server.url, "/bench"))
        check_gateway(target)
        targets[row.name] = target
    return targets


def gateway_env(args: argparse.Namespace) -> dict[str, str]:
    return dict(item.split("=", 1) for item in args.gateway_env)


def measure(targets: dict[str, Target], names: list[str], args: argparse.Namespace,
            log: list[str]) -> None:
    redis = targets.get("_redis")
    for round_index in range(args.repeat):
        log.append(f"round {round_index + 1}/{args.repeat}: load average {loadavg()}")
        print(log[-1], flush=True)
        for name in names:
            target = targets[name]
            target.server.check_alive()
            if round_index == 0 and args.warmup > 0:
                run_wrk(target.server.url, args, args.warmup, target.cookie)
                if target.logs_decisions:
                    time.sleep(0.5)  # the warm-up's decision records reach the file first
            if round_index == 0:
                target.load.append(os.getloadavg()[0])
            before_decisions = sv.decision_records(target.server.workdir)[0] if target.logs_decisions else 0
            before_redis = sv.redis_command_counts(redis.server.port) if redis and "redis" in name else {}
            cpu_before = sv.cpu_seconds(target.server)
            result = run_wrk(target.server.url, args, args.duration, target.cookie)
            cpu = sv.cpu_seconds(target.server) - cpu_before
            result.cpu_us = 1e6 * cpu / result.requests if result.requests else float("nan")
            target.runs.append(result)
            if target.logs_decisions:
                time.sleep(0.3)  # let the decision-log writer flush its queue
                count, last = sv.decision_records(target.server.workdir)
                target.decisions += count - before_decisions
                target.requests_sent += result.requests
                target.last_records = last
            if before_redis:
                after = sv.redis_command_counts(redis.server.port)  # type: ignore[union-attr]
                for command, calls in after.items():
                    target.redis_calls[command] += calls - before_redis.get(command, 0)
                target.redis_calls["_wrk_requests"] += result.requests
            flags = ""
            if result.non_2xx or result.socket_errors:
                flags = f"  (non-2xx {result.non_2xx}, socket errors {result.socket_errors})"
            print(f"  {name:<26} {result.rps:>9.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                  f"  p99 {result.p99_ms:6.2f} ms  CPU {result.cpu_us:5.0f} µs/req{flags}",
                  flush=True)
            if round_index == args.repeat - 1:
                target.load.append(os.getloadavg()[0])
                if target.gateway is not None:
                    target.rss = sv.rss_mb(target.server.processes[0].pid)


def measure_fixed_rate(targets: dict[str, Target], names: list[str], args: argparse.Namespace) -> None:
    if args.rate_seconds <= 0:
        return
    for rate in args.rates:
        for name in names:
            target = targets[name]
            headers = {"Cookie": f"authgate={target.cookie}"} if target.cookie else {}
            direct = targets.get("direct")
            paired = direct is not None and name != "direct"
            cpu_before, wall_before = sv.cpu_seconds(target.server), time.monotonic()
            result = _fixedrate.measure(
                "127.0.0.1", target.server.port, "/bench",
                rate=rate, seconds=args.rate_seconds, headers=headers,
                baseline_port=direct.server.port if paired else None,  # type: ignore[union-attr]
            )
            cpu = sv.cpu_seconds(target.server) - cpu_before
            result["cpu_share"] = cpu / (time.monotonic() - wall_before)
            served = sum(result["statuses"].values())
            result["cpu_us"] = 1e6 * cpu / served if served else float("nan")
            target.fixed[rate] = result
            lat = sorted(result["latencies"])
            print(f"  fixed {rate:g}/s {name:<26} p50 {pct(lat, 50):.3f} ms  p99 {pct(lat, 99):.3f} ms"
                  f"  statuses {result['statuses']}", flush=True)


def tally_decisions(target: Target) -> None:
    """Every record of the gateway's decision log by (decision, reason, status, user, rule)."""
    import json

    path = target.server.workdir / "decisions.jsonl"  # type: ignore[operator]
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            key = (record.get("decision"), record.get("reason"), record.get("status"),
                   record.get("user"), record.get("rule"))
            target.tally[key] += 1
            if record.get("decision") == "allow":
                target.last_allow = record


def pct(sorted_seconds: list[float], p: float) -> float:
    """Percentile in ms (nearest rank) of sorted latencies in seconds."""
    if not sorted_seconds:
        return float("nan")
    rank = max(0, min(len(sorted_seconds) - 1, round(p / 100 * len(sorted_seconds)) - 1))
    return sorted_seconds[rank] * 1e3


def round_ratio(a: Target, b: Target, metric: str = "rps") -> tuple[float, list[float]]:
    """`a`'s metric ("rps" or "cpu", µs/req) over `b`'s, per round, and their median."""
    pairs = zip(a.runs, b.runs, strict=False)
    if metric == "cpu":
        per_round = [x.cpu_us / y.cpu_us for x, y in pairs if y.cpu_us > 0]
    else:
        per_round = [x.rps / y.rps for x, y in pairs if y.rps]
    return median(per_round), per_round


# ---------------------------------------------------------------- py-spy


def find_py_spy() -> str | None:
    for candidate in (
        os.environ.get("PY_SPY"),
        str(Path(sys.executable).parent / "py-spy"),
        shutil.which("py-spy"),
        "/tmp/bench-tools/bin/py-spy",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def profile(target: Target, args: argparse.Namespace, workdir: Path) -> str:
    spy = find_py_spy()
    if spy is None:
        return "py-spy not found (pip install py-spy, or set $PY_SPY)"
    pid = target.server.processes[0].pid
    out = Path(tempfile.gettempdir()) / "authgate-bench-profile.txt"
    recorder = subprocess.Popen(
        [spy, "record", "-p", str(pid), "-d", str(int(args.profile)), "-r", "200", "--function",
         "--nonblocking", "-f", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(0.5)
    result = run_wrk(target.server.url, args, max(1.0, args.profile - 1), target.cookie)
    _, err = recorder.communicate(timeout=args.profile + 30)
    if not out.exists():
        return f"py-spy failed: {err.strip()[-500:]}"
    return summarize_profile(out, result)


def summarize_profile(path: Path, result: WrkResult, top: int = 30) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        # py-spy's stacks of a resumed coroutine start at the task's outermost frame.
        frames = [_short(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            leaf[frames[-1]] += count
    lines = [f"py-spy: {total} samples at 200 Hz under wrk ({result.rps:.0f} req/s);"
             f" raw stacks in {path}", "", "inclusive (share of samples with the function on the stack):"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    lines += ["", "self (share of samples where it is the innermost Python frame):"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in leaf.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    frame = re.sub(r"\s+\(([^)]*?)(?::\d+)?\)$", lambda m: f" ({_path(m.group(1))})", frame)
    return frame


def _path(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# ---------------------------------------------------------------- report


def fmt_rps(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def report(targets: dict[str, Target], names: list[str], args: argparse.Namespace,
           info: dict[str, str], load_start: str, load_end: str, log: list[str],
           command: str, started: datetime.datetime, native: bool) -> str:
    out: list[str] = []
    out.append(f"Run of {started:%Y-%m-%d %H:%M} UTC, {args.repeat} rounds × {args.duration:g} s per "
               f"row, wrk {args.threads} threads × {args.connections} connections "
               f"(warm-up {args.warmup:g} s in round 1). Load average (1/5/15 min) at the start: "
               f"**{load_start}**; at the end: {load_end}.")
    out.append("")
    out.append("Command: `" + command + "`")
    out.append("")
    out.append("Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".")
    if args.gateway_env:
        out.append("")
        out.append("Gateway environment: " + ", ".join(f"`{e}`" for e in args.gateway_env)
                   + " (a candidate change, not the code as committed).")
    out.append("")
    if native and not args.native_package:
        out.append("")
        out.append("**Warning:** `server.data_plane` is a config field in this code but there is "
                   "no `authgate.dataplane` package, so the `-native` rows were most likely "
                   "served by the aiohttp data plane (the key accepted, not yet acted on).")
    if not native:
        out.append("")
        out.append("**No native data plane in this code** (`data_plane` is not a field of "
                   "`authgate.config.schema.ServerConfig`): only the aiohttp variants ran, and "
                   "the targets, which are the native data plane's, show the aiohttp row for "
                   "information.")
    out.append("")
    out.append("### Throughput (wrk, closed loop)")
    out.append("")
    out.append("Ratios are per round, then the median over rounds. \"load\" is the 1-minute "
               "load average before the row's first run and after its last.")
    out.append("")
    out.append("| configuration | what it is | req/s (median) | rounds | p50 ms | p99 ms "
               "| req/s × Caddy | req/s × probe | CPU µs/req | CPU × Caddy | CPU × probe "
               "| load | targets | gateway RSS |")
    out.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    for name in names:
        out.append(throughput_row(targets, name))
    out.extend(goals_table(targets, native))
    out.extend(ratios_table(targets))
    for rate in args.rates if args.rate_seconds > 0 else []:
        fixed = [n for n in names if rate in targets[n].fixed]
        if not fixed:
            continue
        out.append("")
        out.append(f"### Latency at a fixed {rate:g} req/s (bench/_fixedrate.py, open loop, "
                   f"{args.rate_seconds:g} s after a 1 s warm-up; not wrk)")
        out.append("")
        out.append("Each row also sent every 4th tick to the direct upstream: \"direct\" is the "
                   "upstream's latency in those same seconds, and \"added\" the row's percentile "
                   "minus it. CPU is the server's own processes over the whole phase.")
        out.append("")
        out.append("| configuration | requests | p50 ms | p99 ms | p99.9 ms | direct p50 / p99 ms | "
                   "added p50 ms | added p99 ms | CPU µs/req (cores) | statuses (with warm-up) |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        overloaded = []
        for name in fixed:
            f = targets[name].fixed[rate]
            lat = sorted(f["latencies"])
            base = sorted(f["baseline_latencies"]) if f.get("baseline_latencies") else None
            direct = added50 = added99 = "–"
            if base:
                direct = f"{pct(base, 50):.3f} / {pct(base, 99):.3f}"
                added50 = f"{pct(lat, 50) - pct(base, 50):.3f}"
                added99 = f"{pct(lat, 99) - pct(base, 99):.3f}"
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(f["statuses"].items()))
            if f["errors"]:
                statuses += f", errors: {f['errors']}"
            mark = ""
            refused = any(code >= 400 for code in f["statuses"]) or f["errors"]
            if refused or pct(lat, 50) > 10.0:
                mark = " ‡"
                overloaded.append(name)
            out.append(f"| {name}{mark} | {len(lat)} | {pct(lat, 50):.3f} | {pct(lat, 99):.3f} | "
                       f"{pct(lat, 99.9):.3f} | {direct} | {added50} | {added99} | "
                       f"{f['cpu_us']:.0f} ({f['cpu_share']:.2f}) | {statuses} |")
        if overloaded:
            out.append("")
            out.append(f"‡ overloaded at {rate:g} req/s in this run (p50 over 10 ms, refusals or "
                       "connection errors): requests queued, so these latencies are mostly "
                       "waiting, not the cost of one request.")
    gateways = [n for n in names if n in GATEWAYS]
    if gateways:
        out.append("")
        out.append("### Each gateway row did what it says (checks and decision records)")
        out.append("")
        if any(GATEWAYS[n].kind == "bare" for n in gateways):
            out.append("The `bare` rows: " + _rows.BARE_OFF)
            out.append("")
        for name in gateways:
            t = targets[name]
            if not t.logs_decisions:
                out.append(f"- `{name}`: before wrk, {'; '.join(t.checks)}. No decision log "
                           "(no sink), so no records to count.")
                continue
            per_request = t.decisions / t.requests_sent if t.requests_sent else float("nan")
            last = t.last_allow or {}
            shown = {k: last.get(k) for k in ("decision", "user", "rule", "reason", "route", "status")}
            out.append(f"- `{name}`: before wrk, {'; '.join(t.checks)}. During the wrk runs: "
                       f"{t.decisions} decision records for {t.requests_sent} requests wrk counted "
                       f"({per_request:.3f} per request). The last `allow`: `{shown}`. "
                       "All records of the run (wrk, fixed rate, checks), by decision, reason, "
                       "status, user, rule:")
            for key, count in t.tally.most_common(8):
                note = ""
                if key[1] == "gateway-error":
                    note = " (clients that closed mid-request: see Findings)"
                out.append(f"  - {count} × `{' / '.join(str(k) for k in key)}`{note}")
            if t.redis_calls:
                wrk_requests = t.redis_calls.pop("_wrk_requests", 0) or 1
                calls = {k: v for k, v in t.redis_calls.most_common() if v}
                total = sum(calls.values())
                detail = ", ".join(f"{k} {v / wrk_requests:.2f}" for k, v in calls.items())
                out.append(f"  - Redis commands per request during wrk: {total / wrk_requests:.2f} "
                           f"({detail}; Redis counts the commands a script runs too: the rate "
                           "limit's GET and SET run inside its EVALSHA).")
    out.append("")
    out.append("Load average before each round: " + "; ".join(
        line.split(": load average ")[1] for line in log) + ".")
    return "\n".join(out)


def ratio_to(targets: dict[str, Target], name: str, baseline: str, metric: str) -> str:
    a, b = targets.get(name), targets.get(baseline)
    if a is None or b is None or not a.runs or not b.runs:
        return "–"
    return f"{round_ratio(a, b, metric)[0]:.2f}"


def throughput_row(targets: dict[str, Target], name: str) -> str:
    t = targets[name]
    rps = median([r.rps for r in t.runs])
    rounds = " / ".join(fmt_rps(r.rps) for r in t.runs)
    p50 = median([r.p50_ms for r in t.runs])
    p99 = median([r.p99_ms for r in t.runs])
    rss = "–"
    if t.rss:
        rss = (f"{t.rss['max_worker']:.0f} MB" if t.rss["processes"] == 1 else
               f"{t.rss['max_worker']:.0f} MB / worker ({t.rss['total']:.0f} MB in "
               f"{t.rss['processes']:.0f} processes)")
    bad = sum(r.non_2xx + r.socket_errors for r in t.runs)
    flag = f" ⚠ {bad} non-2xx/errors" if bad else ""
    cpu = median([r.cpu_us for r in t.runs])
    load = " → ".join(f"{x:.2f}" for x in t.load) or "–"
    marks = ", ".join(f"G{i} {verdict(targets, g, g.row)[0]}"
                      for i, g in enumerate(_rows.GOALS, 1) if g.row == name) or "–"
    return (f"| {name} | {CONFIGS[name]} | {fmt_rps(rps)}{flag} | {rounds} | {p50:.2f} | {p99:.2f} "
            f"| {ratio_to(targets, name, 'caddy', 'rps')} | {ratio_to(targets, name, 'probe', 'rps')} "
            f"| {cpu:.0f} | {ratio_to(targets, name, 'caddy', 'cpu')} "
            f"| {ratio_to(targets, name, 'probe', 'cpu')} | {load} | {marks} | {rss} |")


def verdict(targets: dict[str, Target], goal: _rows.Goal, row: str) -> tuple[str, str, str]:
    """(PASS / MISS / not run, the median ratio, the per-round ratios) of `row` on `goal`."""
    a, b = targets.get(row), targets.get(goal.baseline)
    if a is None or b is None or not a.runs or not b.runs:
        return "not run", "–", "–"
    value, per_round = round_ratio(a, b, goal.metric)
    return ("PASS" if goal.met(value) else "MISS"), f"{value:.2f}", " / ".join(f"{x:.2f}" for x in per_round)


def goals_table(targets: dict[str, Target], native: bool) -> list[str]:
    out = ["", "### The issue's targets (ratios within this run)", "",
           "| | target | row / baseline | median of the rounds | per round | bound | result |",
           "|---|---|---|---:|---|---:|---|"]
    for index, goal in enumerate(_rows.GOALS, 1):
        row = goal.row if native else goal.fallback
        result, value, rounds = verdict(targets, goal, row)
        if not native:
            result = f"n/a: no native data plane (the aiohttp row: {result})"
        metric = "CPU µs/req" if goal.metric == "cpu" else "req/s"
        out.append(f"| G{index} | {goal.text} | `{row}` / `{goal.baseline}` ({metric}) | {value} "
                   f"| {rounds} | {goal.op} {goal.bound:g} | **{result}** |")
    probe = targets.get("probe")
    if probe is not None and probe.runs:
        cpu = median([r.cpu_us for r in probe.runs])
        vs = ratio_to(targets, "probe", "caddy", "cpu")
        scale = f" ({vs}× Caddy's)" if vs != "–" else ""
        out += ["", f"The probe cost {cpu:.0f} CPU µs/req here{scale}; the issue's probe, on its "
                f"box: 26–33 µs/req (0.27× Caddy's). G3's bound in this run is therefore "
                f"{1.3 * cpu:.0f} µs/req."]
    return out


def ratios_table(targets: dict[str, Target]) -> list[str]:
    out = ["", "### req/s ratios against the DESIGN.md targets", "",
           "| ratio | median of the rounds' ratios | per round | target | met |",
           "|---|---:|---|---:|---|"]
    for a, b, target, what in [*_rows.RATIOS, *_rows.NATIVE_RATIOS]:
        if a in targets and b in targets and targets[a].runs and targets[b].runs:
            value, per_round = round_ratio(targets[a], targets[b])
            met = "–" if target is None else ("PASS" if value >= target else "**MISS**")
            goal = "–" if target is None else f"≥ {target:.1f}"
            rounds = " / ".join(f"{x:.2f}" for x in per_round)
            out.append(f"| {what} (`{a}` / `{b}`) | {value:.2f} | {rounds} | {goal} | {met} |")
    return out if len(out) > 5 else []  # none of its rows ran


def write_doc(block: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    generated = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + generated + tail
    else:
        text = text.rstrip("\n") + "\n\n## Latest run\n\n" + generated + "\n"
    DOC.write_text(text)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (5)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (3); rows report the median")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds, round 1 (1)")
    parser.add_argument("--only", action="append", metavar="NAME[,NAME]",
                        help=f"run only these (names or globs, e.g. 'caddy,probe,*public*'): "
                             f"{', '.join(CONFIGS)}")
    parser.add_argument("--rate", default="1000,200",
                        help="fixed rates in req/s, comma-separated (1000,200)")
    parser.add_argument("--rate-seconds", type=float, default=3.0,
                        help="seconds per fixed-rate row (3; 0 skips them)")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="then record --profile-target with py-spy under wrk for SECONDS")
    parser.add_argument("--profile-target", default="authgate-mem-1w", choices=list(CONFIGS)[1:],
                        help="what --profile records (authgate-mem-1w; its first process)")
    parser.add_argument("--no-geo", action="store_true", help="no GeoIP database in the gateways")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of the authgate processes, e.g. PYTHONPATH=DIR to "
                             "measure a candidate change; noted in the report")
    parser.add_argument("--tracing", type=float, nargs="?", const=1.0, default=None, metavar="RATIO",
                        help="the authgate rows trace requests (observability.tracing, sampler "
                             "ratio, RATIO of them: 1.0 if not given) to a local OTLP/HTTP sink "
                             "(bench/_apps.py otlp)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {DOC.relative_to(ROOT)}")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs)")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in str(args.rate).split(",") if r.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    native, package = _configs.data_plane_support({**os.environ, **gateway_env(args)})
    if not native:
        print("no `data_plane` in authgate.config.schema.ServerConfig: running only the "
              "aiohttp variants (the -native rows are skipped)", flush=True)
    elif not package:
        print("warning: `server.data_plane` exists but there is no authgate.dataplane package: "
              "the -native rows are likely served by the aiohttp data plane", flush=True)
    args.native_package = package
    names = wanted(args, native)
    if args.profile and args.profile_target not in names:
        names.append(args.profile_target)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    print(f"load average at start: {load_start}; cores: {os.cpu_count()}", flush=True)
    info = machine()
    workdir = Path(tempfile.mkdtemp(prefix="authgate-bench-"))
    stack = sv.Stack()
    log: list[str] = []
    given = shlex.join(argv if argv is not None else sys.argv[1:])
    if os.environ.get("AUTHGATE_BENCH_VIA_MAKE"):
        command = f"make bench BENCH_ARGS={shlex.quote(given)}" if given else "make bench"
    else:
        command = f".venv/bin/python bench/http_bench.py {given}".strip()
    try:
        with contextlib.ExitStack() as exits:
            t0 = time.monotonic()
            targets = start_all(names, workdir, stack, args, exits, native)
            print(f"started {len(stack.servers)} servers in {time.monotonic() - t0:.1f} s", flush=True)
            measure(targets, names, args, log)
            measure_fixed_rate(targets, names, args)
            for name in names:
                if targets[name].logs_decisions:
                    tally_decisions(targets[name])
            profile_text = ""
            if args.profile:
                profile_text = profile(targets[args.profile_target], args, workdir)
            load_end = loadavg()
            text = report(targets, names, args, info, load_start, load_end, log, command, started,
                          native)
            stack.close()
    except sv.BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        print(f"logs in {workdir}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        stack.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(text)
    if profile_text:
        print()
        print(profile_text)
    if not args.no_write:
        write_doc(text)
        print(f"\nwritten into {DOC.relative_to(ROOT)}")
    if args.keep:
        print(f"logs and configs in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
