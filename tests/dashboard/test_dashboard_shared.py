"""Several workers and replicas: whichever admin socket answers shows every one's records.

Real `authgate serve` processes: two workers on one port (SO_REUSEPORT, the admin
listener too) reading the file sink they all append to, and two replicas reading
the Redis stream sink both write to. The dashboard's totals are checked against the
records the sinks hold — on every answer, whichever worker gave it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import redis
from aiohttp.test_utils import TestServer

from tests.testbed.gateway import Gateway
from tests.testbed.login_gateway import COOKIE_SECRET
from tests.testbed.ports import free_port, wait_for_port
from tests.testbed.redis import RedisServer

ROUTED = {"Host": "echo.test", "Accept": "application/json"}
UNROUTED = {"Host": "nowhere.test", "Accept": "application/json"}  # denied: host-unknown


def shared_config(upstream: str, redis_url: str, admin: int, **top: Any) -> dict[str, Any]:
    return {
        "server": {"admin_listen": f"127.0.0.1:{admin}"},
        "store": {"backend": "redis", "url": redis_url, "key_prefix": f"dash{time.time_ns()}:"},
        "secrets": {"cookie_secret": [COOKIE_SECRET]},
        "routes": [{
            "id": "echo", "match": {"host": "echo.test"}, "upstream": upstream,
            "public": ["/**"],
        }],
        **top,
    }


async def traffic(url: str, allowed: int, refused: int) -> None:
    connector = aiohttp.TCPConnector(force_close=True)  # new connections: every worker gets some
    async with aiohttp.ClientSession(connector=connector) as client:
        for index in range(allowed + refused):
            headers = ROUTED if index < allowed else UNROUTED
            async with client.get(f"{url}/n{index}", headers=headers) as r:
                await r.read()


async def totals_until(admin: int, wanted: dict[str, int], asks: int = 12) -> list[dict[str, int]]:
    """`asks` answers of /dashboard/api/summary, each on a new connection (so on any
    worker), once the first one shows `wanted` (a shared feed backfills first)."""
    seen: list[dict[str, int]] = []
    deadline = time.monotonic() + 20
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        while len(seen) < asks:
            async with client.get(f"http://127.0.0.1:{admin}/dashboard/api/summary") as r:
                body = await r.json()
            totals = {k: body["summary"]["totals"][k] for k in wanted}
            if seen or totals == wanted or time.monotonic() > deadline:
                seen.append(totals)
            else:
                time.sleep(0.2)
    return seen


async def test_two_workers_read_the_file_every_worker_writes(
    echo_upstream: TestServer,
    redis_server: RedisServer,
    gateway_factory: Callable[..., Gateway],
) -> None:
    admin = free_port()
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config = shared_config(upstream, redis_server.url, admin)
    config["server"]["workers"] = 2
    gateway = gateway_factory(config)
    wait_for_port("127.0.0.1", admin, timeout=15.0, process=gateway.process)
    deadline = time.monotonic() + 20
    while "2 workers ready" not in gateway.stderr():
        assert time.monotonic() < deadline, gateway.stderr()
        time.sleep(0.1)
    await traffic(gateway.url, allowed=14, refused=6)
    records = gateway.decisions(20)
    by_outcome = Counter(r["decision"] for r in records)
    assert len(_worker_pids(gateway)) == 2
    wanted = {"allow": by_outcome["allow"], "deny": by_outcome["deny"]}
    assert wanted == {"allow": 14, "deny": 6}
    answers = await totals_until(admin, wanted)
    assert all(answer == wanted for answer in answers), answers
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{admin}/dashboard/api/summary") as r:
            body = await r.json()
    assert body["source"] == "file" and body["scope"].startswith("every worker")


def _worker_pids(gateway: Gateway) -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process(gateway.process.pid).children()]


async def test_replicas_merge_through_the_redis_stream(
    echo_upstream: TestServer,
    redis_server: RedisServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    key = f"dash-decisions-{time.time_ns()}"
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    admins = [free_port(), free_port()]
    replicas = []
    for index, admin in enumerate(admins):
        sinks = [
            {"file": str(tmp_path / f"replica{index}.jsonl")},
            {"redis_stream": {"url": redis_server.url, "key": key}, "pseudonymize": ["client_ip"]},
        ]
        config = shared_config(
            upstream, redis_server.url, admin,
            decision_log={"sinks": sinks, "pseudonym_key": "dashboard-test-pseudonym-key-0123456789"},
        )
        replicas.append(gateway_factory(config))
        wait_for_port("127.0.0.1", admin, timeout=15.0, process=replicas[-1].process)
    await traffic(replicas[0].url, allowed=5, refused=2)
    await traffic(replicas[1].url, allowed=3, refused=4)
    client = redis.Redis.from_url(redis_server.url)
    deadline = time.monotonic() + 10
    while client.xlen(key) < 14 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.xlen(key) == 14
    client.close()
    for admin in admins:  # either replica's dashboard: both replicas' decisions
        answers = await totals_until(admin, {"allow": 8, "deny": 6}, asks=2)
        assert all(a == {"allow": 8, "deny": 6} for a in answers), answers
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{admins[1]}/dashboard/api/decisions?limit=500") as r:
            rows = (await r.json())["rows"]
    assert len(rows) == 14
    # As the stream sink wrote them: pseudonymized, never the address itself.
    assert {row["client_ip"][:2] for row in rows} == {"p:"}
    # A record read back from the stream opens, explained against the current config.
    denied = next(row for row in rows if row["decision"] == "deny")
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{admins[0]}/dashboard/api/decisions/{denied['request_id']}"
        async with http.get(url) as r:
            detail = await r.json()
    assert detail["reasons"] == denied["reason"].split(",") == ["host-unknown"]
    assert detail["explain"]["decision"] == "deny" and detail["explain"]["identity"] == "anonymous"
    assert detail["explain"]["reasons"] == ["host-unknown"] and detail["explain"]["same_as_recorded"]
