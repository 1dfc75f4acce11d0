"""Tests for `authgate.decisionlog`: the record line, the sinks, the never-blocking writer."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from authgate.config.schema import DecisionLogConfig
from authgate.config.schema import SinkEntry as FileSinkConfig
from authgate.decision import Decision, Outcome, Reason
from authgate.decisionlog import (
    DecisionLog,
    DecisionRecord,
    FileSink,
    StdoutSink,
    build_sinks,
    rfc3339_millis,
)
from authgate.decisionlog import writer as writer_module

T0 = datetime(2026, 11, 29, 10, 0, 0, 123000, tzinfo=UTC).timestamp()
KEYS = [
    "time", "request_id", "trace_id", "route", "method", "host", "path", "client_ip", "user", "provider",
    "country", "device", "decision",
    "reason", "rule", "risk", "signals", "status", "upstream_status", "durations",
    "headers_dropped",
    "return_url_rejected",
    "stripped",
    "grant",
]  # fmt: skip


def make_record(n: int = 0, *, path: str = "/x", host: str = "app.example.com") -> DecisionRecord:
    decision = Decision(
        Outcome.DENY,
        (Reason.METHOD_NOT_ALLOWED, Reason.PATH_INVALID),
        route_id="hr",
        rule="allow[0]",
        status=403,
    )
    return DecisionRecord.from_decision(
        decision,
        time=T0,
        request_id=f"req-{n}",
        method="GET",
        host=host,
        path=path,
        client_ip="203.0.113.7",
        status=403,
        upstream_status=None,
        durations=(("total", 0.00123456), ("upstream", 0.0009)),
    )


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


class FailingSink:
    def __init__(self) -> None:
        self.calls = 0
        self.closed = False

    def write_lines(self, lines: list[str]) -> None:
        self.calls += 1
        raise OSError("disk on fire")

    def close(self) -> None:
        self.closed = True


class ListSink:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_lines(self, lines: list[str]) -> None:
        self.lines.extend(lines)

    def close(self) -> None:
        pass


# --- the record --------------------------------------------------------------------------


def test_record_is_one_json_line_with_every_field_in_order() -> None:
    line = make_record(7).to_json()
    assert "\n" not in line
    data = json.loads(line)
    assert list(data) == KEYS
    assert data == {
        "time": "2026-11-29T10:00:00.123Z",
        "request_id": "req-7",
        "trace_id": None,
        "route": "hr",
        "method": "GET",
        "host": "app.example.com",
        "path": "/x",
        "client_ip": "203.0.113.7",
        "user": None,
        "provider": None,
        "country": None,
        "device": None,
        "decision": "deny",
        "reason": "method-not-allowed,path-invalid",
        "rule": "allow[0]",
        "risk": None,
        "signals": [],
        "status": 403,
        "upstream_status": None,
        "durations": {"total_ms": 1.235, "upstream_ms": 0.9},
        "headers_dropped": [],
        "return_url_rejected": False,
        "stripped": [],
        "grant": None,
    }


def test_record_without_route_or_durations() -> None:
    record = DecisionRecord.from_decision(
        Decision(Outcome.ALLOW, (Reason.ROUTE_PUBLIC,)),
        time=T0,
        request_id="r",
        method="POST",
        host="h",
        path="/",
        client_ip="unknown",
        status=201,
        upstream_status=201,
    )
    data = json.loads(record.to_json())
    assert (data["route"], data["rule"], data["decision"]) == (None, None, "allow")
    assert (data["status"], data["upstream_status"], data["durations"]) == (201, 201, {})


@pytest.mark.parametrize(
    ("epoch", "want"),
    [
        pytest.param(0.0, "1970-01-01T00:00:00.000Z", id="epoch"),
        pytest.param(T0, "2026-11-29T10:00:00.123Z", id="millis"),
        pytest.param(T0 + 0.0004, "2026-11-29T10:00:00.123Z", id="rounds-down"),
        pytest.param(T0 + 0.8769, "2026-11-29T10:00:01.000Z", id="carries-into-second"),
        pytest.param(951782400.5, "2000-02-29T00:00:00.500Z", id="leap-day"),
    ],
)
def test_rfc3339_millis(epoch: float, want: str) -> None:
    assert rfc3339_millis(epoch) == want


@pytest.mark.parametrize(
    ("path", "host"),
    [
        pytest.param("/a\nb", "h", id="lf-in-path"),
        pytest.param("/a", "h\r\nX-Injected: 1", id="crlf-in-host"),
        pytest.param("/a\u2028b\u2029c", "h", id="unicode-line-separators"),
        pytest.param("/a\u0085b", "h", id="next-line"),
        pytest.param("/a\x00b\x1bc", "h", id="control-characters"),
        pytest.param("/caf\u00e9/\u65e5\u672c", "b\u00fccher.example", id="non-ascii-kept"),
    ],
)
def test_injection_stays_one_line(path: str, host: str) -> None:
    line = make_record(path=path, host=host).to_json()
    assert line.splitlines() == [line]
    data = json.loads(line)
    assert (data["path"], data["host"]) == (path, host)


def test_non_ascii_is_written_readable() -> None:
    line = make_record(path="/caf\u00e9").to_json()
    assert "/caf\u00e9" in line


def test_lone_surrogate_is_escaped_and_encodable() -> None:
    line = make_record(path="/a\udcffb").to_json()
    line.encode("utf-8")  # would raise on a raw surrogate
    assert json.loads(line)["path"] == "/a\udcffb"


# --- sinks ---------------------------------------------------------------------------------


def test_stdout_sink_writes_lines_to_its_stream() -> None:
    stream = io.StringIO()
    sink = StdoutSink(stream)
    sink.write_lines(["one", "two"])
    sink.write_lines([])
    sink.close()
    assert stream.getvalue() == "one\ntwo\n"
    assert not stream.closed


def test_stdout_sink_defaults_to_sys_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    StdoutSink().write_lines(["hello"])
    assert capsys.readouterr().out == "hello\n"


def test_file_sink_creates_appends_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_text("old\n", encoding="utf-8")
    path.unlink()
    sink = FileSink(path)
    sink.write_lines(["a", "b"])
    sink.close()
    sink2 = FileSink(path)
    sink2.write_lines(["c"])
    sink2.close()
    assert read_lines(path) == ["a", "b", "c"]
    assert path.stat().st_mode & 0o007 == 0


def test_file_sink_reopen_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    sink = FileSink(path)
    sink.write_lines(["before"])
    path.rename(tmp_path / "decisions.jsonl.1")
    sink.write_lines(["still-old-inode"])
    sink.reopen()
    sink.write_lines(["after"])
    sink.close()
    assert read_lines(tmp_path / "decisions.jsonl.1") == ["before", "still-old-inode"]
    assert read_lines(path) == ["after"]


def test_file_sink_write_after_close_raises(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "d.jsonl")
    sink.close()
    sink.close()
    with pytest.raises(ValueError, match="closed"):
        sink.write_lines(["x"])


def test_file_sink_bad_path_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FileSink(tmp_path / "missing-dir" / "d.jsonl")


def test_build_sinks_from_config(tmp_path: Path) -> None:
    config = DecisionLogConfig(sinks=["stdout", FileSinkConfig(file=str(tmp_path / "d.jsonl"))])
    sinks = build_sinks(config)
    assert [type(s) for s in sinks] == [StdoutSink, FileSink]
    for sink in sinks:
        sink.close()


def test_build_sinks_closes_earlier_files_on_error(tmp_path: Path) -> None:
    good = FileSinkConfig(file=str(tmp_path / "good.jsonl"))
    bad = FileSinkConfig(file=str(tmp_path / "nope" / "bad.jsonl"))
    with pytest.raises(FileNotFoundError):
        build_sinks(DecisionLogConfig(sinks=[good, bad]))


# --- the writer ----------------------------------------------------------------------------


async def test_file_sink_receives_exactly_n_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog([FileSink(path)], queue_size=1000)
    await log.start()
    for n in range(600):  # more than two batches
        log.submit(make_record(n))
        if n % 100 == 0:
            await asyncio.sleep(0)
    await log.close(timeout=5)
    lines = read_lines(path)
    assert len(lines) == 600
    assert [json.loads(line)["request_id"] for line in lines] == [f"req-{n}" for n in range(600)]
    assert (log.written, log.dropped) == (600, 0)


async def test_from_config(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    config = DecisionLogConfig(sinks=[FileSinkConfig(file=str(path))], queue_size=3)
    log = DecisionLog.from_config(config)
    await log.start()
    for n in range(5):
        log.submit(make_record(n))
    await log.close(timeout=5)
    assert log.dropped == 2
    assert len(read_lines(path)) == 4  # three records and the drop report


async def test_overflow_drops_and_reports(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog([FileSink(path)], queue_size=5)
    await log.start()
    for n in range(50):  # no await: the writer cannot run in between
        log.submit(make_record(n))
    assert log.dropped == 45
    with caplog.at_level(logging.WARNING, logger=writer_module.__name__):
        await log.flush()
    lines = [json.loads(line) for line in read_lines(path)]
    assert [r["request_id"] for r in lines[:5]] == [f"req-{n}" for n in range(5)]
    report = lines[5]
    assert report["event"] == "decision-log-dropped"
    assert (report["count"], report["total"]) == (45, 45)
    assert report["time"].endswith("Z")
    assert "dropped 45 records" in caplog.text
    await log.close(timeout=5)
    assert len(read_lines(path)) == 6


async def test_drops_while_closing_are_reported_at_close(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog([FileSink(path)], queue_size=2)
    for n in range(3):
        log.submit(make_record(n))
    await log.close(timeout=5)  # never started: close still drains
    lines = [json.loads(line) for line in read_lines(path)]
    assert len(lines) == 3
    assert lines[-1]["count"] == 1


async def test_submit_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog([FileSink(path)], queue_size=1000)
    await log.start()
    started = time.perf_counter()
    for n in range(10_000):
        log.submit(make_record(n))
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0  # ~a microsecond each; generous for slow CI
    await log.close(timeout=10)
    assert log.written + log.dropped == 10_000
    assert (log.written, log.dropped) == (1000, 9000)
    records = [line for line in read_lines(path) if "decision-log-dropped" not in line]
    assert len(records) == log.written


async def test_submit_after_close_is_counted_not_raised(tmp_path: Path) -> None:
    log = DecisionLog([ListSink()])
    await log.start()
    await log.close(timeout=5)
    await log.close(timeout=5)  # idempotent
    log.submit(make_record())
    assert log.dropped == 1


async def test_failing_sink_does_not_starve_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "d.jsonl"
    failing = FailingSink()
    log = DecisionLog([failing, FileSink(path)], queue_size=10_000, batch_size=1)
    await log.start()
    with caplog.at_level(logging.ERROR, logger=writer_module.__name__):
        for n in range(250):
            log.submit(make_record(n))
        await log.close(timeout=10)
    assert len(read_lines(path)) == 250
    assert failing.calls == 250 and failing.closed
    assert log.sink_failures == (250, 0)
    assert log.written == 250
    # Logged on the 1st, 100th and 200th failure, not per batch.
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 3


async def test_flush_makes_lines_visible(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog([FileSink(path)])
    await log.start()
    log.submit(make_record(1))
    await log.flush()
    assert len(read_lines(path)) == 1
    log.submit(make_record(2))
    await log.flush()
    assert len(read_lines(path)) == 2
    await log.close(timeout=5)


async def test_flush_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        await DecisionLog([ListSink()]).flush()


async def test_reopen_switches_files(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    log = DecisionLog([FileSink(path)])
    await log.start()
    log.submit(make_record(1))
    await log.flush()
    path.rename(tmp_path / "d.jsonl.1")
    await log.reopen()
    log.submit(make_record(2))
    await log.close(timeout=5)
    assert len(read_lines(tmp_path / "d.jsonl.1")) == 1
    assert len(read_lines(path)) == 1


async def test_slow_sink_does_not_stall_the_loop() -> None:
    release = threading.Event()

    class SlowSink(ListSink):
        def write_lines(self, lines: list[str]) -> None:
            release.wait(5)
            super().write_lines(lines)

    sink = SlowSink()
    log = DecisionLog([sink])
    await log.start()
    log.submit(make_record(1))
    started = time.perf_counter()
    await asyncio.sleep(0.05)  # the loop keeps running while the sink blocks
    assert time.perf_counter() - started < 1.0
    release.set()
    await log.close(timeout=5)
    assert len(sink.lines) == 1


async def test_close_is_bounded_when_a_sink_hangs(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    class HangingSink(ListSink):
        def write_lines(self, lines: list[str]) -> None:
            release.wait(5)

    log = DecisionLog([HangingSink()])
    await log.start()
    for n in range(300):
        log.submit(make_record(n))
    started = time.perf_counter()
    try:
        with caplog.at_level(logging.ERROR, logger=writer_module.__name__):
            await log.close(timeout=0.2)
        assert time.perf_counter() - started < 2.0
        assert log.written + log.dropped == 300
        assert log.dropped == 300
        assert "records lost" in caplog.text
    finally:
        release.set()
