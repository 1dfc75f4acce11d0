"""Cost of one rate-limit check — memory and Redis — against a no-op baseline.

Usage:  .venv/bin/python bench/ratelimit.py [--seconds 1.5] [--tasks 50]

Starts its own redis-server on a free loopback port (from PATH, else
$AUTHGATE_TEST_REDIS_SERVER, as tests/testbed/redis.py finds it), then measures in
one run, on one event loop (uvloop when installed, as the gateway runs):

  baseline    awaiting a no-op `check` that answers a fixed result: the same loop
              and call shape as a route without a limit
  memory      MemoryRateLimiter.check
  memory+     what a request really pays with the memory limiter: keys.limit_key,
              check, headers.rate_limit_headers
  redis       RedisRateLimiter.check: one EVALSHA round trip on loopback
  redis GET   a plain GET on the limiter's own client: the round trip alone, to
              tell the script's cost from the network's and redis-py's

each sequentially (one task) and with --tasks concurrent tasks. A row's µs/check is
wall time over checks (with concurrency: amortized, i.e. 1 / throughput), and its
ratio is against the baseline of the same concurrency measured in the same run —
absolute numbers drift on shared machines, ratios much less. Keys rotate over
10,000 clients under a limit none of them reaches, so every check writes.

Stops by itself: each row runs --seconds (10 rows), and a watchdog ends the run
after 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from authgate.config.schema_limits import RateLimitConfig
from authgate.ratelimit.gcra import GcraResult, Limit
from authgate.ratelimit.headers import LimitStatus, rate_limit_headers
from authgate.ratelimit.keys import limit_key
from authgate.ratelimit.limiter import MemoryRateLimiter
from authgate.ratelimit.redis_limiter import RedisRateLimiter, limiter_client

WATCHDOG = 30.0
CLIENTS = [f"198.51.{n // 256}.{n % 256}" for n in range(10_000)]
CONFIG = RateLimitConfig.model_validate({"key": "client_ip", "rate": "100000/s", "burst": 1000})
LIMIT = Limit(CONFIG.rate.per_second, CONFIG.burst)
KEYS = [f"bench:{CONFIG.policy_name}:ip:{ip}" for ip in CLIENTS]
FIXED = GcraResult(True, 0.0, 999, 0.0, 0.001)

Check = Callable[[int], Awaitable[object]]


@dataclass(frozen=True)
class Row:
    name: str
    tasks: int
    checks: int
    seconds: float

    @property
    def micros(self) -> float:
        return self.seconds / self.checks * 1e6


# -- what is measured ----------------------------------------------------------


async def noop(index: int) -> GcraResult:
    return FIXED


def memory_check(limiter: MemoryRateLimiter) -> Check:
    async def check(index: int) -> GcraResult:
        return await limiter.check(KEYS[index % len(KEYS)], LIMIT)

    return check


def memory_request(limiter: MemoryRateLimiter) -> Check:
    async def check(index: int) -> dict[str, str]:
        ip = CLIENTS[index % len(CLIENTS)]
        key = limit_key(
            CONFIG, route_id="bench", client_ip=ip, user=None, session_id=None, headers={}
        )
        result = await limiter.check(key, LIMIT)
        return rate_limit_headers([LimitStatus.of(CONFIG, result)])

    return check


def redis_check(limiter: RedisRateLimiter) -> Check:
    async def check(index: int) -> GcraResult:
        return await limiter.check(KEYS[index % len(KEYS)], LIMIT)

    return check


def redis_get(client: Redis) -> Check:
    async def check(index: int) -> object:
        return await client.get(KEYS[index % len(KEYS)])

    return check


# -- how it is measured --------------------------------------------------------


async def run(name: str, check: Check, tasks: int, seconds: float) -> Row:
    """Call `check` from `tasks` tasks for `seconds`; count the calls."""
    deadline = time.perf_counter() + seconds
    counts = [0] * tasks

    async def worker(slot: int) -> None:
        index = slot * 7919  # tasks start on different keys
        while time.perf_counter() < deadline:
            for _ in range(64):  # amortize the clock read
                await check(index)
                index += 1
            counts[slot] += 64

    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(tasks)))
    return Row(name, tasks, sum(counts), time.perf_counter() - started)


async def measure(redis_url: str, seconds: float, tasks: int) -> list[Row]:
    memory = MemoryRateLimiter()
    client = limiter_client(redis_url, timeout=2.0)
    redis = RedisRateLimiter(client, "bench:")
    try:
        await redis.check("warm-up", LIMIT)  # connect and load the script
        rows = []
        for concurrency in (1, tasks):
            rows.append(await run("baseline (no limit)", noop, concurrency, seconds))
            rows.append(await run("memory", memory_check(memory), concurrency, seconds))
            rows.append(
                await run("memory+ key+headers", memory_request(memory), concurrency, seconds)
            )
            rows.append(await run("redis", redis_check(redis), concurrency, seconds))
            rows.append(await run("redis GET (reference)", redis_get(client), concurrency, seconds))
        return rows
    finally:
        await client.aclose()


def table(rows: list[Row]) -> str:
    lines = [
        f"{'check':<23}{'tasks':>6}{'checks':>11}{'µs/check':>11}{'× baseline':>13}",
        "-" * 64,
    ]
    baselines = {row.tasks: row for row in rows if row.name.startswith("baseline")}
    for row in rows:
        ratio = row.micros / baselines[row.tasks].micros
        lines.append(
            f"{row.name:<23}{row.tasks:>6}{row.checks:>11,}{row.micros:>11.2f}{ratio:>12.1f}×"
        )
    return "\n".join(lines)


# -- a redis-server of our own -------------------------------------------------


def redis_binary() -> str:
    found = os.environ.get("AUTHGATE_TEST_REDIS_SERVER") or shutil.which("redis-server")
    if not found:
        sys.exit("redis-server not found: sudo apt-get install redis-server")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    port, workdir = free_port(), tempfile.mkdtemp(prefix="authgate-bench-redis-")
    argv = [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", workdir, "--logfile", ""]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_pong(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def wait_for_pong(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.02)
    sys.exit("redis-server did not answer PING")


def new_loop() -> tuple[asyncio.AbstractEventLoop, str]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop(), "asyncio"
    return uvloop.new_event_loop(), "uvloop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.2, help="per row (10 rows)")
    parser.add_argument("--tasks", type=int, default=50, help="concurrent tasks")
    args = parser.parse_args()
    loop, loop_name = new_loop()
    with redis_server() as url:
        started = time.monotonic()
        work = asyncio.wait_for(measure(url, args.seconds, args.tasks), WATCHDOG)
        try:
            rows = loop.run_until_complete(work)
        except TimeoutError:
            sys.exit(f"stopped by the {WATCHDOG:.0f} s watchdog")
        finally:
            loop.close()
    print(f"rate-limit check cost — {loop_name}, Python {sys.version.split()[0]}, "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
