"""Soak, drain and large bodies on the native data plane: memory flat, nothing lost.

Usage:  .venv/bin/python bench/soak.py [--minutes 10] [--rate 700] [--drain-seconds 6]
            [--every 10] [--no-write] [--keep]
        .venv/bin/python bench/soak.py --bytes [--size-mb 200] [--no-write]
        make soak                     (the same with the defaults: ~11 minutes)
        make soak SOAK_ARGS="--minutes 1 --no-write"

Starts the real `authgate serve` with the bench's `authgate-public-1w-native` config
(`_configs.gateway_config`: `server.data_plane: native`, 1 worker, a public route
with a per-client-IP rate limit that never refuses, the GeoIP City lookup and the
decision log to a file; only the route's `max_body` is raised to 256 MiB, for
`--bytes`) in front of 2 processes of `bench/_apps.py soak` (the bench's upstream
start-up, `_servers.start_app`; the test bed's echo handlers for bodies). Before any load it checks a GET and a POST come back
with the upstream's answers, and that the gateway runs the native data plane.

The soak (default): `_soakload.drive` sends an open-loop `--rate` req/s for
`--minutes`, mixed per 100 ticks as `_soakload.MIX` says: small GETs on keep-alive
connections, small GETs each on a connection of its own, 1 MB downloads, 1 MB
uploads, and 16 MB downloads the client cuts (RST) after 64 KiB. `_soakwatch.Watch`
samples the gateway every `--every` seconds (RSS, fds, TCP connections, decision
records, small-GET p50/p99). After the load the client closes its connections and
the script waits up to `SETTLE` seconds for the fds to come back to the idle
gateway's baseline (the upstream pool keeps idle connections 30 s).

  flat: PASS when the RSS slope over the last 80% of the run is below
  SLOPE_LIMIT MB/min and the settled fd count is within FD_SLACK of the baseline.

Then the drain: the same load again for `--drain-seconds`, SIGTERM to the gateway
half-way, the load going on until the end (new connects are then refused; that is
not a loss). Every request the client saw accepted must get its complete answer.

  drain: PASS when no request is `lost` (see `_soakload`), the gateway exits 0, and
  every `ok` answer of the drain window has its decision record (by request id).

`--bytes`: instead, one `--size-mb` upload and one download through the gateway,
peak RSS sampled every 50 ms (`_soakbytes`); PASS when both arrive intact and the
gateway's RSS grows by less than GROWTH_LIMIT_MB. tests/proxy/test_streaming.py
asserts the same bound on the default (native) data plane with the test bed's echo
upstream; this mode reports the figures for docs/performance.md.

Results are printed as Markdown and, unless --no-write, written into
docs/performance.md between the `soak:begin`/`soak:end` (or `soak-bytes:`) markers.
Everything started is stopped at the end, including after a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _configs  # noqa: E402
import _rows  # noqa: E402
import _servers as sv  # noqa: E402
import _soakbytes  # noqa: E402
import _soakload as load  # noqa: E402
import _soakwatch as watch  # noqa: E402
import uvloop  # noqa: E402
from _apps import BODY  # noqa: E402

ROOT = sv.ROOT
DOC = ROOT / "docs" / "performance.md"
ROW = _rows.GATEWAYS["authgate-public-1w-native"]
SLOPE_LIMIT = 1.0  # MB/min over the last 80% of the run
FD_SLACK = 5
SETTLE = 45.0  # seconds: the upstream pool's 30 s idle expiry, and slack
GROWTH_LIMIT_MB = 64.0  # as tests/proxy/test_streaming.py


# ---------------------------------------------------------------- the stack


def start(workdir: Path, stack: sv.Stack) -> sv.Server:
    if not _configs.data_plane_support({**os.environ})[1]:
        raise sv.BenchError("this authgate has no native data plane (authgate.dataplane)")
    upstream = stack.add(sv.start_app("soak", 2, workdir))
    home = workdir / ROW.name
    home.mkdir(parents=True, exist_ok=True)
    config = _configs.gateway_config(
        ROW, port=sv.free_port(), upstream_port=upstream.port, workdir=home,
        provider=None, redis_url=None, geo=True, data_plane=True,
    )
    config["routes"][0]["max_body"] = "256MiB"  # --bytes: above the 100 MiB default
    gateway = stack.add(sv.start_authgate(ROW.name, config, home))
    check(gateway)
    return gateway


def host_header(gateway: sv.Server) -> str:
    return f"127.0.0.1:{gateway.port}"  # the bench's route matches host 127.0.0.1


def check(gateway: sv.Server) -> None:
    """A GET and a POST through the gateway get the upstream's answers, natively."""
    import urllib.request

    with urllib.request.urlopen(f"{gateway.url}/soak/small", timeout=10) as response:
        body = response.read()
    if body != BODY:
        raise sv.BenchError(f"GET through the gateway got {body[:200]!r}")
    request = urllib.request.Request(f"{gateway.url}/soak/upload", data=b"x" * 1000)
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = response.read()
    if b'"body_bytes": 1000' not in answer:
        raise sv.BenchError(f"POST through the gateway got {answer[:200]!r}")
    config = gateway.extra["config"]
    if config["server"].get("data_plane") != "native":
        raise sv.BenchError(f"the gateway's config says {config['server']}")


# ---------------------------------------------------------------- the soak


async def soak(gateway: sv.Server, args: argparse.Namespace) -> dict[str, Any]:
    pid = gateway.processes[0].pid
    assert gateway.workdir is not None
    decisions = watch.DecisionTally(gateway.workdir / "decisions.jsonl")
    baseline = watch.snapshot(pid, decisions, time.monotonic())
    client = load.Client("127.0.0.1", gateway.port, host_header(gateway))
    tally = load.Tally()
    watcher = watch.Watch(pid, decisions, tally, every=args.every)
    watcher.start()
    load_avg = [os.getloadavg()]
    began = datetime.datetime.now(datetime.UTC)
    overflows = listen_overflows()
    client_cpu = time.process_time()
    try:
        await load.drive(client, args.rate, args.minutes * 60, tally)
    finally:
        watcher.stop()
    load_avg.append(os.getloadavg())
    client_cpu = time.process_time() - client_cpu
    overflows = listen_overflows() - overflows
    end_of_load = watch.snapshot(pid, decisions, watcher.started)
    client.close()
    settled, settle_seconds = await settle(pid, decisions, baseline.fds)
    by_decision = collections.Counter(decisions.by_decision)  # the drain's come after
    return {"baseline": baseline, "samples": watcher.samples, "end": end_of_load,
            "settled": settled, "settle_seconds": settle_seconds, "tally": tally,
            "decisions": decisions, "by_decision": by_decision,
            "client_connections": client.opened, "load": load_avg,
            "client_cpu": client_cpu, "listen_overflows": overflows, "began": began}


def listen_overflows() -> int:
    """The kernel's count of full accept queues (TcpExt ListenOverflows), box-wide:
    a connect the client saw succeed may sit unaccepted there, its request resent."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            return int(table.get("ListenOverflows", 0))
    return 0


async def settle(pid: int, decisions: watch.DecisionTally,
                 fds: int) -> tuple[watch.Sample, float]:
    started = time.monotonic()
    while True:
        now = watch.snapshot(pid, decisions, started)
        if now.fds <= fds + FD_SLACK or time.monotonic() - started > SETTLE:
            return now, time.monotonic() - started
        await asyncio.sleep(1.0)


async def drain(gateway: sv.Server, decisions: watch.DecisionTally,
                args: argparse.Namespace) -> dict[str, Any]:
    """Load for --drain-seconds, SIGTERM half-way; what every request got."""
    process = gateway.processes[0]
    decisions.read()
    decisions.keep_ids = True
    client = load.Client("127.0.0.1", gateway.port, host_header(gateway))
    tally = load.Tally(keep_ids=True)
    await load.drive(client, args.rate, 1.0, tally)  # keep-alive connections open first

    async def sigterm() -> None:
        await asyncio.sleep(args.drain_seconds / 2)
        process.popen.send_signal(signal.SIGTERM)

    signalled = asyncio.create_task(sigterm())
    await load.drive(client, args.rate, args.drain_seconds, tally)
    await signalled
    client.close()
    code = await asyncio.to_thread(process.popen.wait, 60)
    decisions.read()
    missing = [rid for rid in tally.request_ids if rid not in decisions.request_ids]
    drained = [line for line in process.tail(1_000_000).splitlines() if "draining:" in line]
    return {"tally": tally, "exit": code, "missing_records": missing,
            "records": len(decisions.request_ids),
            "log": json.loads(drained[-1])["message"] if drained else "(no drain line logged)"}


# ---------------------------------------------------------------- the report


def mb(value: float) -> str:
    return f"{value:.1f} MB"


def outcome_table(tally: load.Tally) -> list[str]:
    names = ["ok", "aborted", "refused", "idle-closed", "lost", "skipped"]
    lines = ["| kind | share | " + " | ".join(names) + " | statuses |",
             "|---|---:|" + "---:|" * len(names) + "---|"]
    for kind in load.MIX:
        statuses = ", ".join(f"{s}: {n:,}" for (k, s), n in sorted(tally.statuses.items())
                             if k == kind.name)
        cells = " | ".join(f"{tally.outcomes[kind.name, o]:,}" for o in names)
        lines.append(f"| {kind.name} | {kind.weight}% | {cells} | {statuses or '–'} |")
    return lines


def gateway_log_errors(gateway: sv.Server) -> int:
    """Lines of the gateway's (JSON) log at ERROR or above, or with a traceback."""
    text = gateway.processes[0].tail(50_000_000)
    return sum(1 for line in text.splitlines()
               if '"level": "ERROR"' in line or '"level": "CRITICAL"' in line
               or "Traceback" in line)


def soak_report(gateway: sv.Server, result: dict[str, Any], args: argparse.Namespace,
                drained: dict[str, Any] | None) -> tuple[list[str], bool]:
    samples: list[watch.Sample] = result["samples"]
    base, end, settled = result["baseline"], result["end"], result["settled"]
    slope = watch.slope_mb_per_min(samples)
    fds_ok = abs(settled.fds - base.fds) <= FD_SLACK
    flat = bool(samples) and slope < SLOPE_LIMIT and fds_ok
    tally: load.Tally = result["tally"]
    by_decision: collections.Counter[tuple[str, str, int]] = result["by_decision"]
    answered = tally.count("ok") + tally.count("aborted")
    first, last = (samples[0], samples[-1]) if samples else (base, end)
    lines = [
        f"Run of {result['began']:%Y-%m-%d %H:%M} UTC: {args.minutes:g} min at "
        f"{args.rate:g} req/s (open loop), samples every {args.every:g} s. Code "
        f"{revision()}. Load average (1/5/15 min) at the start "
        f"{' '.join(f'{x:.2f}' for x in result['load'][0])}, at the end "
        f"{' '.join(f'{x:.2f}' for x in result['load'][1])}.",
        "",
        f"Command: `{command()}`",
        "",
        f"**Flat memory: {'PASS' if flat else 'MISS'}** (RSS slope < {SLOPE_LIMIT:g} MB/min "
        f"over the last 80% of the run, and fds back to the baseline ± {FD_SLACK})",
        "",
        "| measure | value |",
        "|---|---|",
        f"| RSS (gateway, 1 worker): idle before / first sample / last sample | "
        f"{mb(base.rss_mb)} / {mb(first.rss_mb)} / {mb(last.rss_mb)} |",
        f"| RSS max / min over the samples | {mb(max(s.rss_mb for s in samples or [base]))} / "
        f"{mb(min(s.rss_mb for s in samples or [base]))} |",
        f"| RSS slope, last 80% of the run | {slope:+.3f} MB/min |",
        f"| open fds: idle before / end of load / after {result['settle_seconds']:.0f} s settle | "
        f"{base.fds} / {end.fds} / {settled.fds} |",
        f"| TCP connections (ESTABLISHED, CLOSE_WAIT): end of load / settled | "
        f"{end.tcp} ({end.established}, {end.close_wait}) / {settled.tcp} "
        f"({settled.established}, {settled.close_wait}) |",
        f"| requests started / answered (ok + aborted as designed) | "
        f"{sum(tally.outcomes.values()):,} / {answered:,} |",
        f"| decision records in the run | {settled.records - base.records:,} |",
        f"| client connections opened | {result['client_connections']:,} |",
        f"| CPU: the gateway / the load client (this script), cores | "
        f"{cores(samples, base)} / {result['client_cpu'] / max(1.0, args.minutes * 60):.2f} |",
        f"| ERROR lines or tracebacks in the gateway's log | {gateway_log_errors(gateway)} |",
        f"| listen-queue overflows on the box during the run (all sockets) | "
        f"{result['listen_overflows']:,} |",
        "",
        *outcome_table(tally),
        "",
        "Decision records not `allow`/200: "
        + (", ".join(f"{o}/{r}/{s}: {n:,}" for (o, r, s), n in by_decision.most_common()
                     if (o, s) != ("allow", 200)) or "none"),
        "",
    ]
    if tally.details:
        lines += ["Client-side details: " + ", ".join(
            f"{d}: {n:,}" for d, n in tally.details.most_common(8)), ""]
    lines += sample_table(samples)
    if drained is not None:
        lines += ["", *drain_report(drained, args)]
    return lines, flat


def cores(samples: list[watch.Sample], base: watch.Sample) -> str:
    if not samples or samples[-1].at <= 0:
        return "–"
    return f"{(samples[-1].cpu_s - base.cpu_s) / samples[-1].at:.2f}"


def sample_table(samples: list[watch.Sample]) -> list[str]:
    """About 12 rows: every n-th sample, and the last."""
    step = max(1, len(samples) // 12)
    chosen = samples[::step] + ([samples[-1]] if samples and (len(samples) - 1) % step else [])
    lines = ["| t (s) | RSS MB | fds | TCP | ESTAB | CLOSE_WAIT | records | gateway CPU | "
             "GET p50 / p99 ms (client) | (gateway's record) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    previous: watch.Sample | None = None
    for s in chosen:
        cpu = "–"
        if previous is not None and s.at > previous.at:
            cpu = f"{(s.cpu_s - previous.cpu_s) / (s.at - previous.at):.0%}"
        previous = s
        lines.append(f"| {s.at:.0f} | {s.rss_mb:.1f} | {s.fds} | {s.tcp} | {s.established} | "
                     f"{s.close_wait} | {s.records:,} | {cpu} | {s.p50_ms:.2f} / {s.p99_ms:.2f} | "
                     f"{s.gw_p50_ms:.2f} / {s.gw_p99_ms:.2f} |")
    return lines


def drain_report(drained: dict[str, Any], args: argparse.Namespace) -> list[str]:
    tally: load.Tally = drained["tally"]
    passed = drained_passed(drained)
    return [
        f"**SIGTERM drain under load: {'PASS' if passed else 'MISS'}** (1 s of load, then "
        f"{args.drain_seconds:g} s with SIGTERM at {args.drain_seconds / 2:g} s; lost = "
        f"{tally.count('lost')}, exit code {drained['exit']}, `ok` answers without a "
        f"decision record: {len(drained['missing_records'])} of {len(tally.request_ids):,})",
        "",
        f"The gateway logged: `{drained['log']}`; it wrote {drained['records']:,} decision "
        f"records in the window, for {tally.count('ok') + tally.count('aborted'):,} answers "
        "the client saw (ok + aborted).",
        "",
        *outcome_table(tally),
    ]


def drained_passed(drained: dict[str, Any]) -> bool:
    tally: load.Tally = drained["tally"]
    return (tally.count("lost") == 0 and drained["exit"] == 0
            and not drained["missing_records"] and tally.count("ok") > 0)


def bytes_report(results: list[_soakbytes.Transfer]) -> tuple[list[str], bool]:
    passed = all(r.intact and r.growth_mb < GROWTH_LIMIT_MB for r in results)
    lines = [
        f"Run of {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, code {revision()}, "
        f"command `{command()}`.",
        "",
        f"**{results[0].size // 2**20} MB each way, bounded memory: "
        f"{'PASS' if passed else 'MISS'}** (intact, RSS growth < {GROWTH_LIMIT_MB:g} MB)",
        "",
        "| transfer | intact | what arrived | seconds | MB/s | RSS before | RSS peak | growth |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.what} | {'yes' if r.intact else 'NO'} | {r.detail} | {r.seconds:.1f} | "
                     f"{r.size / 2**20 / r.seconds:.0f} | {mb(r.rss_before_mb)} | "
                     f"{mb(r.rss_peak_mb)} | {r.growth_mb:+.1f} MB |")
    return lines, passed


def revision() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() or "?") + (" + uncommitted changes in src/" if dirty else "")


def command() -> str:
    if os.environ.get("AUTHGATE_BENCH_VIA_MAKE"):
        return "make soak" + (f" SOAK_ARGS={shlex.quote(shlex.join(sys.argv[1:]))}"
                              if sys.argv[1:] else "")
    return " ".join([".venv/bin/python bench/soak.py", *map(shlex.quote, sys.argv[1:])])


def write_doc(marker: str, lines: list[str]) -> None:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    text = DOC.read_text()
    if begin not in text or end not in text:
        raise sv.BenchError(f"{DOC} has no {begin} ... {end} block")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    DOC.write_text(head + begin + "\n" + "\n".join(lines).rstrip() + "\n" + end + tail)


# ---------------------------------------------------------------- main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=700.0, help="requests per second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--drain-seconds", type=float, default=6.0)
    parser.add_argument("--bytes", action="store_true", help="the large-body check instead")
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, workdir: Path) -> bool:
    stack = sv.Stack()
    try:
        gateway = start(workdir, stack)
        pid = gateway.processes[0].pid
        if args.bytes:
            results = _soakbytes.transfer("127.0.0.1", gateway.port, host_header(gateway), pid,
                                          args.size_mb * 2**20)
            lines, passed = bytes_report(results)
            marker = "soak-bytes"
        else:
            result = uvloop.run(soak(gateway, args))
            drained = uvloop.run(drain(gateway, result["decisions"], args))
            lines, flat = soak_report(gateway, result, args, drained)
            passed, marker = flat and drained_passed(drained), "soak"
    finally:
        stack.close()
    print("\n".join(lines))
    if not args.no_write:
        write_doc(marker, lines)
        print(f"\nwritten into {DOC.relative_to(ROOT)}")
    return passed


def main() -> int:
    args = parse()
    workdir = Path(tempfile.mkdtemp(prefix="authgate-soak-"))
    try:
        return 0 if run(args, workdir) else 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            with contextlib.suppress(OSError):
                subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    sys.exit(main())
