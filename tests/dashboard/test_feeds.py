"""The dashboard's feeds: the writer's tap, and the shared feeds of a real file and Redis."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import redis

from authgate.config.schema import RedisStreamConfig
from authgate.dashboard import feeds
from authgate.dashboard.feeds import FileSource, SharedFeed, StreamSource
from authgate.dashboard.lines import record_from_line
from authgate.dashboard.tap import DashboardTap
from authgate.decision import Outcome
from authgate.decisionlog import DecisionLog, FileSink
from authgate.decisionlog.pseudonyms import Pseudonymizer
from authgate.decisionlog.redis_stream import RedisStreamSink
from authgate.identity import Identity
from tests.dashboard.records import record
from tests.testbed.redis import RedisServer


def _now_record(index: int, decision: Outcome = Outcome.ALLOW) -> object:
    return record(decision, at=time.time(), request_id=f"req-{index}", signals=("new-device",),
                  risk=42, country="DE")


def test_a_line_reads_back_as_the_record_it_was() -> None:
    original = record(Outcome.STEP_UP, reason="risk-step-up", risk=61, signals=("new-country",),
                      country="FR", upstream=None, provider="corp", device="d1",
                      stripped=("x-user",), identity=Identity("s", "corp", "session"),
                      trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    again = record_from_line(original.to_json())
    assert again == original._replace(time=round(original.time, 3))
    assert again is not None and again.identity is None  # a line never carries one
    assert record_from_line('{"event":"decision-log-dropped","count":3}') is None
    assert record_from_line('{"time":"2026-12-') is None  # torn


async def test_the_writer_hands_every_batch_to_the_tap(tmp_path: Path) -> None:
    tap = DashboardTap(recent=3)
    log = DecisionLog([FileSink(tmp_path / "d.jsonl")], taps=[tap.absorb])
    await log.start()
    for index in range(5):
        log.submit(_now_record(index))  # type: ignore[arg-type]
    await log.flush()
    await log.close()
    assert tap.absorbed == 5
    assert [r.request_id for r in tap.recent()] == ["req-4", "req-3", "req-2"]  # bounded ring
    assert tap.summary(time.time())["totals"]["allow"] == 5  # ... the rollup counts them all
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 5


async def test_a_failing_tap_costs_the_log_nothing(tmp_path: Path) -> None:
    def broken(batch: object) -> None:
        raise RuntimeError("bug")

    log = DecisionLog([FileSink(tmp_path / "d.jsonl")], taps=[broken])
    await log.start()
    log.submit(_now_record(1))  # type: ignore[arg-type]
    await log.flush()
    await log.close()
    assert log.written == 1 and log.dropped == 0


def test_the_tap_pseudonymizes_what_a_sink_does() -> None:
    key = "dashboard-test-pseudonym-key-0123456789"
    pseudonymizer = Pseudonymizer(key, ["client_ip", "user"])
    tap = DashboardTap(pseudonym=pseudonymizer.pseudonym, fields=["client_ip", "user"])
    tap.absorb([record(Outcome.DENY, user="bob", ip="198.51.100.7")])
    shown = tap.recent()[0]
    assert shown.user == pseudonymizer.pseudonym("bob") and shown.user.startswith("p:")
    assert shown.client_ip == pseudonymizer.pseudonym("198.51.100.7")
    top = tap.summary(shown.time + 1)["top"]
    assert top["refused_users"] == [[shown.user, 1]]  # the tables never see the real ones
    assert "198.51.100.7" not in json.dumps(top)


def _fill(tap: DashboardTap, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while tap.absorbed < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_file_feed_backfills_then_follows_and_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    sink = FileSink(path)
    sink.write_lines([_now_record(i).to_json() for i in range(3)])  # type: ignore[attr-defined]
    feed = SharedFeed(lambda: FileSource(path), recent=100)
    try:
        tap = feed.tap()
        _fill(tap, 3)
        assert tap.absorbed == 3 and feed.ready
        sink.write_lines([_now_record(3).to_json()])  # type: ignore[attr-defined]
        _fill(tap, 4)
        path.rename(tmp_path / "decisions.jsonl.1")  # logrotate
        sink.reopen()
        sink.write_lines([_now_record(4, Outcome.DENY).to_json()])  # type: ignore[attr-defined]
        _fill(tap, 5)
        assert [r.request_id for r in tap.recent()] == [f"req-{i}" for i in (4, 3, 2, 1, 0)]
    finally:
        feed.close()
        sink.close()


def test_the_shared_feed_stops_when_nobody_looks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_text("")
    clock = [0.0]
    monkeypatch.setattr(feeds, "FOLLOW_SECONDS", 0.05)
    feed = SharedFeed(lambda: FileSource(path), recent=10, clock=lambda: clock[0])
    first = feed.tap()
    clock[0] = feeds.IDLE_SECONDS + 1
    deadline = time.monotonic() + 5
    while feed._thread is not None and feed._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert feed._thread is not None and not feed._thread.is_alive()
    assert feed.tap() is not first  # the next look starts afresh (and backfills)
    feed.close()


def test_the_stream_feed_merges_what_every_replica_wrote(redis_server: RedisServer) -> None:
    key = f"dash-{time.time_ns()}"
    replicas = [RedisStreamSink(RedisStreamConfig(url=redis_server.url, key=key)) for _ in range(2)]
    client = redis.Redis.from_url(redis_server.url)
    old = record(at=time.time() - 1000, request_id="too-old").to_json()
    client.xadd(key, {"line": old}, id=f"{int((time.time() - 1000) * 1000)}-0")
    replicas[0].write_lines([_now_record(i).to_json() for i in range(3)])  # type: ignore[attr-defined]
    feed = SharedFeed(lambda: StreamSource(redis_server.url, key), recent=100)
    try:
        tap = feed.tap()
        _fill(tap, 3)
        assert feed.ready and tap.absorbed == 3  # backfilled: the last 15 minutes only
        replicas[1].write_lines(
            [_now_record(i, Outcome.DENY).to_json() for i in range(3, 5)]  # type: ignore[attr-defined]
        )
        _fill(tap, 5)
        totals = tap.summary(time.time())["totals"]
        assert (totals["allow"], totals["deny"]) == (3, 2)
    finally:
        feed.close()
        for sink in replicas:
            sink.close()
        client.close()


async def test_live_hub_is_bounded_and_a_slow_client_loses_old_ticks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from authgate.dashboard import live

    monkeypatch.setattr(live, "TICK_SECONDS", 0.05)
    ticks = iter(range(1000))
    hub = live.LiveHub(lambda: f"{next(ticks)}".encode())
    first = hub.subscribe(capacity=2)
    second = hub.subscribe(capacity=2)
    assert first is not None and second is not None
    assert hub.subscribe(capacity=2) is None  # full
    await asyncio.sleep(live.TICK_SECONDS * (live.QUEUE_EVENTS + 1.5))
    # `first` never read: it holds the newest QUEUE_EVENTS ticks, the older ones gone.
    held = [await first.next() for _ in range(live.QUEUE_EVENTS)]
    assert first.skipped >= 1 and held == sorted(held)
    first.close()
    assert hub.subscribe(capacity=2) is not None
    await hub.close()
    ended = [await second.next() for _ in range(live.QUEUE_EVENTS)]
    assert ended[-1] == b""  # told to end, after at most the ticks it still held
