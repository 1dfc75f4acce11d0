"""Tracing in process: the aiohttp application with the SDK's `InMemorySpanExporter`.

`authgate.tracing.provider.exporter_for` is the one place the exporter is built; the
test hands it the in-memory one, builds the real application (`build_app`) from a
config file, and reads the finished spans after `Tracing.flush()`. The test client
connects from 127.0.0.1: `trusted_proxies` decides whether that is a trusted proxy.
A reload that changes the tracing config builds a new provider and flushes the old
one once its requests are done.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from authgate.config.snapshot import build_snapshot
from authgate.server.app import RELOADER, build_app
from authgate.server.state import GENERATION
from tests.proxy.conftest import public_route

AppClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
STAGES = {"authgate.facts", "authgate.authenticate", "authgate.adaptive", "authgate.decide", "authgate.limit"}


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> list[InMemorySpanExporter]:
    """Every exporter the gateway builds, in order (one per tracing config)."""
    made: list[InMemorySpanExporter] = []

    def in_memory(config: object) -> InMemorySpanExporter:
        made.append(InMemorySpanExporter())
        return made[-1]

    monkeypatch.setattr("authgate.tracing.provider.exporter_for", in_memory)
    return made


def config_of(tmp_path: Path, echo: TestServer, *, trusted: bool, **tracing: Any) -> dict[str, Any]:
    return {
        "server": {"trusted_proxies": ["127.0.0.0/8"] if trusted else []},
        "decision_log": {"sinks": [{"file": str(tmp_path / "decisions.jsonl")}]},
        "observability": {"tracing": {"enabled": True, **tracing}},
        "routes": [public_route(str(echo.make_url("/")).rstrip("/"))],
    }


async def started(
    tmp_path: Path, config: dict[str, Any], aiohttp_client: AppClient
) -> tuple[web.Application, TestClient[web.Request, web.Application]]:
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    app = build_app(build_snapshot(path))
    return app, await aiohttp_client(app)


def finished(app: web.Application, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tracing = app[GENERATION].auth.tracing
    assert tracing is not None
    assert tracing.flush()
    return list(exporter.get_finished_spans())


async def records(tmp_path: Path, count: int = 1) -> list[dict[str, Any]]:
    """The decision records, once `count` are written (the log writes off the request path)."""
    path = tmp_path / "decisions.jsonl"
    for _ in range(200):
        lines = path.read_text().splitlines(keepends=True) if path.exists() else []
        if len([line for line in lines if line.endswith("\n")]) >= count:
            break
        await asyncio.sleep(0.025)
    return [json.loads(line) for line in lines if line.endswith("\n")]


def upstream_header(body: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in body["headers"] if key.lower() == name]


async def one_request(
    tmp_path: Path, config: dict[str, Any], aiohttp_client: AppClient, exporter: list[InMemorySpanExporter],
    headers: dict[str, str],
) -> tuple[dict[str, Any], list[ReadableSpan]]:
    """What the echo upstream received, and the spans, of one GET /a to echo.test."""
    app, client = await started(tmp_path, config, aiohttp_client)
    response = await client.get("/a", headers={"Host": "echo.test", **headers})
    assert response.status == 200
    return await response.json(), finished(app, exporter[0])


async def test_spans_parentage_and_propagation_from_a_trusted_proxy(
    tmp_path: Path, echo_upstream: TestServer, aiohttp_client: AppClient, exported: list[InMemorySpanExporter]
) -> None:
    config = config_of(tmp_path, echo_upstream, trusted=True)
    headers = {"traceparent": PARENT, "tracestate": "k=v"}
    body, spans = await one_request(tmp_path, config, aiohttp_client, exported, headers)
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"GET /**", "GET", *STAGES}
    root = by_name["GET /**"]
    assert root.kind is SpanKind.SERVER and root.parent is not None
    assert (root.parent.trace_id, root.parent.span_id, root.parent.is_remote) == (
        0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, True,
    )
    for span in spans:
        assert span.context.trace_id == root.context.trace_id
        if span is not root:
            assert span.parent is not None and span.parent.span_id == root.context.span_id, span.name
    upstream = by_name["GET"]
    assert upstream.kind is SpanKind.CLIENT
    (sent,) = upstream_header(body, "traceparent")
    assert sent.split("-")[1:3] == [f"{root.context.trace_id:032x}", f"{upstream.context.span_id:016x}"]
    assert upstream_header(body, "tracestate") == ["k=v"]
    (record,) = await records(tmp_path)
    assert record["trace_id"] == f"{root.context.trace_id:032x}" == PARENT.split("-")[1]


async def test_an_untrusted_peer_starts_a_new_trace_and_its_context_is_not_forwarded(
    tmp_path: Path, echo_upstream: TestServer, aiohttp_client: AppClient, exported: list[InMemorySpanExporter]
) -> None:
    config = config_of(tmp_path, echo_upstream, trusted=False)
    headers = {"TraceParent": PARENT, "TRACESTATE": "k=v"}  # any case: one header to HTTP
    body, spans = await one_request(tmp_path, config, aiohttp_client, exported, headers)
    root = next(span for span in spans if span.kind is SpanKind.SERVER)
    assert root.parent is None
    assert f"{root.context.trace_id:032x}" != PARENT.split("-")[1]
    (sent,) = upstream_header(body, "traceparent")
    assert sent != PARENT and sent.split("-")[1] == f"{root.context.trace_id:032x}"
    assert upstream_header(body, "tracestate") == []
    (record,) = await records(tmp_path)
    assert record["stripped"] == ["traceparent", "tracestate"]
    assert record["trace_id"] == f"{root.context.trace_id:032x}"


async def test_ratio_zero_samples_nothing_but_still_propagates(
    tmp_path: Path, echo_upstream: TestServer, aiohttp_client: AppClient, exported: list[InMemorySpanExporter]
) -> None:
    config = config_of(tmp_path, echo_upstream, trusted=True, sampler="ratio", ratio=0.0)
    # `ratio` ignores the parent's sampled flag: this parent asks for sampling, in vain.
    body, spans = await one_request(tmp_path, config, aiohttp_client, exported, {"traceparent": PARENT})
    assert spans == []
    (sent,) = upstream_header(body, "traceparent")
    trace_id, parent_id, flags = sent.split("-")[1:]
    assert trace_id == PARENT.split("-")[1] and parent_id != PARENT.split("-")[2]
    assert int(flags, 16) & 1 == 0
    assert (await records(tmp_path))[0]["trace_id"] == trace_id


async def test_a_reload_of_the_tracing_config_flushes_the_old_provider(
    tmp_path: Path, echo_upstream: TestServer, aiohttp_client: AppClient, exported: list[InMemorySpanExporter]
) -> None:
    config = config_of(tmp_path, echo_upstream, trusted=False, export_delay="1h")
    app, client = await started(tmp_path, config, aiohttp_client)
    assert (await client.get("/a", headers={"Host": "echo.test"})).status == 200
    assert exported[0].get_finished_spans() == ()  # queued for the hour
    first = app[GENERATION].auth.tracing
    config["observability"]["tracing"]["service_name"] = "renamed"
    (tmp_path / "authgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert await app[RELOADER].reload("test")
    assert app[GENERATION].auth.tracing is not first and len(exported) == 2
    for _ in range(100):  # retired in the background once its requests are done
        if exported[0].get_finished_spans():
            break
        await client.get("/healthz-not-routed", headers={"Host": "other.test"})
    assert {span.resource.attributes["service.name"] for span in exported[0].get_finished_spans()} == {"authgate"}
    assert (await client.get("/b", headers={"Host": "echo.test"})).status == 200
    assert {span.resource.attributes["service.name"] for span in finished(app, exported[1])} == {"renamed"}
