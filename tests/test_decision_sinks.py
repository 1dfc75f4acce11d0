"""Decision-log sinks with options: pseudonymization per sink, the Redis stream sink."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import redis
from aiohttp.test_utils import TestServer

from authgate.decisionlog.pseudonyms import Pseudonymizer
from tests.testbed.gateway import Gateway
from tests.testbed.redis import RedisServer

KEY = "test-pseudonym-key-0123456789abcdef"
LINE = json.dumps({"client_ip": "203.0.113.9", "user": "alice@example.com", "path": "/x"})


def test_pseudonyms_are_keyed_stable_and_leave_other_fields() -> None:
    one = json.loads(Pseudonymizer(KEY, ["client_ip", "user"]).line(LINE))
    again = json.loads(Pseudonymizer(KEY, ["client_ip", "user"]).line(LINE))
    other_key = json.loads(Pseudonymizer(KEY + "x", ["client_ip"]).line(LINE))
    assert one == again  # the same person keeps one pseudonym: records still line up
    assert one["client_ip"].startswith("p:") and "203.0.113.9" not in json.dumps(one)
    assert one["user"].startswith("p:") and "alice" not in json.dumps(one)
    assert other_key["client_ip"] != one["client_ip"]  # keyed: no rainbow table
    assert one["path"] == "/x" and other_key["user"] == "alice@example.com"


async def test_each_sink_gets_its_own_view_and_the_stream_is_capped(
    echo_upstream: TestServer,
    redis_server: RedisServer,
    gateway_factory: Callable[..., Gateway],
    tmp_path: Path,
) -> None:
    plain, hidden = tmp_path / "plain.jsonl", tmp_path / "hidden.jsonl"
    stream = f"decisions-{tmp_path.name}"
    gateway = gateway_factory(
        {
            "decision_log": {
                "pseudonym_key": KEY,
                "sinks": [
                    {"file": str(plain)},
                    {"file": str(hidden), "pseudonymize": ["client_ip"]},
                    {"redis_stream": {"url": redis_server.url, "key": stream, "maxlen": 5},
                     "pseudonymize": ["client_ip"]},
                ],
            },
            "routes": [
                {"id": "app", "match": {"host": "127.0.0.1"}, "public": ["/**"],
                 "upstream": str(echo_upstream.make_url("/")).rstrip("/")}
            ],
        }
    )
    async with aiohttp.ClientSession() as client:
        for i in range(10):
            async with client.get(f"{gateway.url}/r{i}") as r:
                assert r.status == 200
    gateway.stop()  # drains the decision log
    plain_records = [json.loads(line) for line in plain.read_text().splitlines()]
    hidden_records = [json.loads(line) for line in hidden.read_text().splitlines()]
    assert [r["client_ip"] for r in plain_records] == ["127.0.0.1"] * 10
    assert len({r["client_ip"] for r in hidden_records}) == 1
    assert hidden_records[0]["client_ip"].startswith("p:")
    client = redis.Redis.from_url(redis_server.url)
    try:
        entries = client.xrange(stream)
        assert len(entries) == 5  # capped at maxlen: the oldest went first
        last = json.loads(entries[-1][1][b"line"])
        assert last["path"] == "/r9" and last["client_ip"] == hidden_records[0]["client_ip"]
    finally:
        client.close()
