"""What the live dashboard costs the data plane: the same gateway with it off, closed, open.

Usage:  .venv/bin/python bench/dashboard_bench.py [--duration 5] [--repeat 3]
            [--connections 64] [--row authgate-public-1w-native] [--no-geo] [--recent 2000]

Starts one upstream (bench/_apps.py, as http_bench.py does) and three `authgate serve`
from the same `_configs.gateway_config` row as http_bench.py's (default: the public
route on the native data plane, one worker, the decision log to a file):

  off      no admin listener, so no dashboard at all (http_bench.py's row as it is)
  closed   an admin listener with the dashboard on (`decision_log.dashboard`), nobody
           looking: the writer thread's tap still counts every record
  open     the same, with what an open page does during the whole wrk run: one
           server-sent-events connection to /dashboard/events (a tick a second,
           counted) and /dashboard/api/decisions every 2 s

Each round runs wrk (`--latency`, as http_bench.py) against the three in turn, each
round starting with the next one (so none is always first after a quiet spell), and
drift on a shared box hits all alike; a row reports the median of its rounds, and
the ratios (closed/off, open/off) are medians of the per-round ratios. CPU µs/req is
the user+system CPU of the gateway's own processes over the requests it answered.
Prints Markdown; writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _configs  # noqa: E402
import _rows  # noqa: E402
import _servers as sv  # noqa: E402
from http_bench import run_wrk  # noqa: E402

ROWS = ("off", "closed", "open")


class OpenPage:
    """What the page does while open: an SSE stream, and the table every 2 s."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ticks = 0
        self.polls = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._events, daemon=True),
                         threading.Thread(target=self._table, daemon=True)]

    def __enter__(self) -> OpenPage:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _events(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        connection.request("GET", "/dashboard/events")
        response = connection.getresponse()
        while not self._stop.is_set():
            line = response.fp.readline()
            if not line:
                break
            if line.startswith(b"event: tick"):
                self.ticks += 1
        connection.close()

    def _table(self) -> None:
        while not self._stop.wait(2.0):
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", "/dashboard/api/decisions?limit=200")
            connection.getresponse().read()
            connection.close()
            self.polls += 1


def start(name: str, row: _rows.Gateway, upstream: sv.Server, workdir: Path,
          stack: sv.Stack, args: argparse.Namespace) -> tuple[sv.Server, int | None]:
    home = workdir / name
    home.mkdir()
    config = _configs.gateway_config(
        row, port=sv.free_port(), upstream_port=upstream.port, workdir=home,
        provider=None, redis_url=None, geo=not args.no_geo, data_plane=True,
    )
    admin = None
    if name != "off":
        admin = sv.free_port()
        config["server"]["admin_listen"] = f"127.0.0.1:{admin}"
        config["decision_log"]["dashboard"] = {"recent": args.recent}
    server = stack.add(sv.start_authgate(f"authgate-{name}", config, home))
    if admin is not None:
        sv.wait_port(admin, server.processes, name)
    return server, admin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--row", default="authgate-public-1w-native",
                        choices=[n for n, g in _rows.GATEWAYS.items() if not g.logs_in])
    parser.add_argument("--no-geo", action="store_true")
    parser.add_argument("--recent", type=int, default=2000, help="decision_log.dashboard.recent")
    args = parser.parse_args(argv)
    row = _rows.GATEWAYS[args.row]
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in ROWS}
    ticks = polls = 0
    stack = sv.Stack()
    with tempfile.TemporaryDirectory(prefix="authgate-dash-bench-") as tmp, contextlib.closing(stack):
        workdir = Path(tmp)
        upstream = stack.add(sv.start_app("upstream", 2, workdir))
        gateways = {name: start(name, row, upstream, workdir, stack, args) for name in ROWS}
        for server, _ in gateways.values():
            run_wrk(server.url, args, 1.0, None)  # warm-up
        for round_index in range(args.repeat):
            print(f"round {round_index + 1}/{args.repeat}: load {os.getloadavg()[0]:.1f}", flush=True)
            shift = round_index % len(ROWS)  # each row goes first, second, third in turn
            for name in ROWS[shift:] + ROWS[:shift]:
                server, admin = gateways[name]
                page = OpenPage(admin) if name == "open" and admin else contextlib.nullcontext()
                before = sv.cpu_seconds(server)
                with page:
                    result = run_wrk(server.url, args, args.duration, None)
                cpu = 1e6 * (sv.cpu_seconds(server) - before) / max(result.requests, 1)
                if isinstance(page, OpenPage):
                    ticks, polls = ticks + page.ticks, polls + page.polls
                results[name].append((cpu, result.rps))
                print(f"  {name:<7} {result.rps:8.0f} req/s  CPU {cpu:6.1f} µs/req"
                      f"  p99 {result.p99_ms:6.2f} ms", flush=True)
    print(f"\nRow {args.row}, {args.repeat} × {args.duration:.0f} s, {args.connections} connections;"
          f" the open page got {ticks} SSE ticks and made {polls} table requests.\n")
    print("| dashboard | CPU µs/req | req/s | CPU vs off | req/s vs off |")
    print("|---|---|---|---|---|")
    for name in ROWS:
        cpu = statistics.median(c for c, _ in results[name])
        rps = statistics.median(r for _, r in results[name])
        cpu_ratio = statistics.median(c / o for (c, _), (o, _) in zip(results[name], results["off"]))
        rps_ratio = statistics.median(r / o for (_, r), (_, o) in zip(results[name], results["off"]))
        print(f"| {name} | {cpu:.1f} | {rps:.0f} | {cpu_ratio:.3f} | {rps_ratio:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
