"""HTTP throughput and latency of authgate's authenticated path against its baselines.

Usage:  .venv/bin/python bench/http_bench.py [--duration 10] [--connections 64]
            [--repeat 3] [--only NAME[,NAME]] [--rate 1000,200] [--rate-seconds 5]
            [--profile SECONDS] [--gateway-env KEY=VALUE] [--no-write] [--keep]
        make bench                     (the same with the defaults)

Starts, on loopback and all against ONE upstream, then measures with `wrk --latency`:

  direct             the upstream itself: a small aiohttp+uvloop app (2 processes,
                     SO_REUSEPORT) answering a ~100-byte body; the ceiling of the rest
  nginx              nginx (worker_processes 2) proxy_pass to it, keepalive 64
  caddy              Caddy `reverse_proxy` (GOMAXPROCS = cores), no auth
  aiohttp-proxy-1w   a bare aiohttp+uvloop reverse proxy (bench/_apps.py: one
  aiohttp-proxy-2w   ClientSession, streamed response, no auth), 1 and 2 processes
  authgate-mem-1w    `authgate serve` with server.workers 1, memory store
  authgate-redis-1w  the same on the Redis store (a redis-server the bench starts)
  authgate-redis-2w  the same with server.workers 2 (memory stores are refused with
                     more than one worker: sessions would not be shared)

Every authgate row is the AUTHENTICATED path: a session cookie from a real login at
the test bed's OpenID Provider (testbed/oidc, made once per gateway before wrk runs),
a route whose policy has three criteria (`and: [authenticated, groups: [bench],
ip: [127.0.0.0/8]]`), a per-user rate limit that never refuses (1000000/s), a GeoIP
City database (MaxMind's test file, so each request does a geo lookup), the signed
identity assertion and headers to the upstream, and the decision log to a file.
Before measuring, the bench checks each gateway: with the cookie 200 and the
upstream's body, without it 401. After, it reads the decision log: one record per
request, the last ones `allow` for user `bench`.

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
stopped at the end; a run with the defaults takes about 6 minutes.
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

import _fixedrate  # noqa: E402
import _servers as sv  # noqa: E402

ROOT = sv.ROOT
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

CONFIGS: dict[str, str] = {
    "direct": "the upstream alone (aiohttp+uvloop, 2 processes)",
    "nginx": "nginx 2 workers, proxy_pass + keepalive, no auth",
    "caddy": "Caddy reverse_proxy, no auth",
    "aiohttp-proxy-1w": "bare aiohttp+uvloop proxy, 1 process, no auth",
    "aiohttp-proxy-2w": "bare aiohttp+uvloop proxy, 2 processes, no auth",
    "authgate-mem-1w": "authgate, authenticated path, 1 worker, memory store",
    "authgate-redis-1w": "authgate, authenticated path, 1 worker, Redis store",
    "authgate-redis-2w": "authgate, authenticated path, 2 workers, Redis store",
}
AUTHGATE = ("authgate-mem-1w", "authgate-redis-1w", "authgate-redis-2w")

# (numerator, denominator, target, what DESIGN.md says)
RATIOS: list[tuple[str, str, float | None, str]] = [
    ("authgate-redis-2w", "caddy", 1.0, "authenticated, 2 workers vs Caddy (no auth)"),
    ("authgate-redis-2w", "aiohttp-proxy-2w", 0.9, "authenticated, 2 workers vs bare aiohttp proxy 2 workers"),
    ("authgate-mem-1w", "aiohttp-proxy-1w", 0.9, "authenticated, 1 worker (memory) vs bare aiohttp proxy 1 worker"),
    ("authgate-redis-1w", "authgate-mem-1w", 0.8, "Redis store vs memory store, 1 worker"),
    ("aiohttp-proxy-2w", "caddy", None, "bare aiohttp proxy 2 workers vs Caddy (for scale)"),
    ("authgate-redis-2w", "authgate-redis-1w", None, "2 workers vs 1 worker, Redis store"),
]


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


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wanted(args: argparse.Namespace) -> list[str]:
    if not args.only:
        return list(CONFIGS)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; known: {', '.join(CONFIGS)}")
    return [n for n in CONFIGS if n in names]


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


def check_gateway(target: Target) -> None:
    """With the cookie: 200 and the upstream's body. Without it: 401, three times."""
    import urllib.error
    import urllib.request

    from _apps import BODY

    url = target.server.url + "/bench"
    request = urllib.request.Request(url, headers={"Cookie": f"authgate={target.cookie}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        if response.status != 200 or body != BODY:
            raise sv.BenchError(f"{target.name}: with the cookie got {response.status} {body[:200]!r}")
    target.checks.append("with the session cookie: 200 and the upstream's body")
    refused = []
    for _ in range(3):
        anonymous = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(anonymous, timeout=10) as response:
                refused.append(response.status)
        except urllib.error.HTTPError as error:
            refused.append(error.code)
    if refused != [401, 401, 401]:
        raise sv.BenchError(f"{target.name}: without the cookie got {refused}, not 401")
    target.checks.append("without it: 401, 401, 401")


def start_all(names: list[str], workdir: Path, stack: sv.Stack, args: argparse.Namespace,
              exits: contextlib.ExitStack) -> dict[str, Target]:
    upstream = stack.add(sv.start_app("upstream", 2, workdir))
    targets: dict[str, Target] = {}
    up = upstream.url
    for name in names:
        if name == "direct":
            targets[name] = Target(name, upstream)
        elif name == "nginx":
            targets[name] = Target(name, stack.add(sv.start_nginx(upstream.port, workdir)))
        elif name == "caddy":
            targets[name] = Target(name, stack.add(sv.start_caddy(upstream.port, workdir)))
        elif name.startswith("aiohttp-proxy-"):
            workers = int(name[-2])
            server = stack.add(sv.start_app("proxy", workers, workdir, upstream=up))
            targets[name] = Target(name, server)
    gateways = [n for n in names if n in AUTHGATE]
    if not gateways:
        return targets
    provider = exits.enter_context(sv.oidc_provider(workdir))
    redis = None
    if any("redis" in n for n in gateways):
        redis = stack.add(sv.start_redis(workdir))
        targets["_redis"] = Target("_redis", redis)
    for name in gateways:
        workers = int(name[-2])
        redis_url = f"redis://127.0.0.1:{redis.port}/0" if "redis" in name and redis else None
        server = stack.add(
            sv.start_authgate(
                name, workdir, upstream_port=upstream.port, provider=provider,
                workers=workers, redis_url=redis_url, geo=not args.no_geo,
                env=dict(item.split("=", 1) for item in args.gateway_env),
            )
        )
        target = Target(name, server)
        target.cookie = asyncio.run(sv.log_in(server.url, "/bench"))
        check_gateway(target)
        targets[name] = target
    return targets


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
                if name in AUTHGATE:
                    time.sleep(0.5)  # the warm-up's decision records reach the file first
            before_decisions = sv.decision_records(target.server.workdir)[0] if name in AUTHGATE else 0
            before_redis = sv.redis_command_counts(redis.server.port) if redis and "redis" in name else {}
            cpu_before = sv.cpu_seconds(target.server)
            result = run_wrk(target.server.url, args, args.duration, target.cookie)
            cpu = sv.cpu_seconds(target.server) - cpu_before
            result.cpu_us = 1e6 * cpu / result.requests if result.requests else float("nan")
            target.runs.append(result)
            if name in AUTHGATE:
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
            print(f"  {name:<18} {result.rps:>9.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                  f"  p99 {result.p99_ms:6.2f} ms  CPU {result.cpu_us:5.0f} µs/req{flags}",
                  flush=True)
            if name in AUTHGATE and round_index == args.repeat - 1:
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
            print(f"  fixed {rate:g}/s {name:<18} p50 {pct(lat, 50):.3f} ms  p99 {pct(lat, 99):.3f} ms"
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


def round_ratio(a: Target, b: Target) -> tuple[float, list[float]]:
    per_round = [x.rps / y.rps for x, y in zip(a.runs, b.runs, strict=False) if y.rps]
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
           command: str, started: datetime.datetime) -> str:
    caddy = targets.get("caddy")
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
    out.append("### Throughput (wrk, closed loop)")
    out.append("")
    out.append("| configuration | what it is | req/s (median) | rounds | p50 ms | p99 ms | × Caddy "
               "| CPU µs/req | gateway RSS |")
    out.append("|---|---|---:|---|---:|---:|---:|---:|---|")
    for name in names:
        t = targets[name]
        rps = median([r.rps for r in t.runs])
        rounds = " / ".join(fmt_rps(r.rps) for r in t.runs)
        p50 = median([r.p50_ms for r in t.runs])
        p99 = median([r.p99_ms for r in t.runs])
        vs_caddy = f"{round_ratio(t, caddy)[0]:.2f}" if caddy and caddy.runs and t.runs else "–"
        rss = "–"
        if t.rss:
            rss = (f"{t.rss['max_worker']:.0f} MB" if t.rss["processes"] == 1 else
                   f"{t.rss['max_worker']:.0f} MB / worker ({t.rss['total']:.0f} MB in "
                   f"{t.rss['processes']:.0f} processes)")
        bad = sum(r.non_2xx + r.socket_errors for r in t.runs)
        flag = f" ⚠ {bad} non-2xx/errors" if bad else ""
        cpu = median([r.cpu_us for r in t.runs])
        out.append(f"| {name} | {CONFIGS[name]} | {fmt_rps(rps)}{flag} | {rounds} | {p50:.2f} | "
                   f"{p99:.2f} | {vs_caddy} | {cpu:.0f} | {rss} |")
    out.append("")
    out.append("### Ratios against the targets (DESIGN.md)")
    out.append("")
    out.append("| ratio | median of the rounds' ratios | per round | target | met |")
    out.append("|---|---:|---|---:|---|")
    for a, b, target, what in RATIOS:
        if a in targets and b in targets and targets[a].runs and targets[b].runs:
            value, per_round = round_ratio(targets[a], targets[b])
            met = "–" if target is None else ("yes" if value >= target else "**no**")
            goal = "–" if target is None else f"≥ {target:.1f}"
            rounds = " / ".join(f"{x:.2f}" for x in per_round)
            out.append(f"| {what} (`{a}` / `{b}`) | {value:.2f} | {rounds} | {goal} | {met} |")
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
    gateways = [n for n in names if n in AUTHGATE]
    if gateways:
        out.append("")
        out.append("### The authenticated path was authenticated")
        out.append("")
        for name in gateways:
            t = targets[name]
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
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (3); rows report the median")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds, round 1 (2)")
    parser.add_argument("--only", action="append", metavar="NAME[,NAME]",
                        help=f"run only these: {', '.join(CONFIGS)}")
    parser.add_argument("--rate", default="1000,200",
                        help="fixed rates in req/s, comma-separated (1000,200)")
    parser.add_argument("--rate-seconds", type=float, default=5.0,
                        help="seconds per fixed-rate row (5; 0 skips them)")
    parser.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                        help="then record --profile-target with py-spy under wrk for SECONDS")
    parser.add_argument("--profile-target", default="authgate-mem-1w", choices=list(CONFIGS)[1:],
                        help="what --profile records (authgate-mem-1w; its first process)")
    parser.add_argument("--no-geo", action="store_true", help="no GeoIP database in the gateways")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of the authgate processes, e.g. PYTHONPATH=DIR to "
                             "measure a candidate change; noted in the report")
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
    names = wanted(args)
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
            targets = start_all(names, workdir, stack, args, exits)
            print(f"started {len(stack.servers)} servers in {time.monotonic() - t0:.1f} s", flush=True)
            measure(targets, names, args, log)
            measure_fixed_rate(targets, names, args)
            for name in names:
                if name in AUTHGATE:
                    tally_decisions(targets[name])
            profile_text = ""
            if args.profile:
                profile_text = profile(targets[args.profile_target], args, workdir)
            load_end = loadavg()
            text = report(targets, names, args, info, load_start, load_end, log, command, started)
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
