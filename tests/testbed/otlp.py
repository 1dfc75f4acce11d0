"""OTLP/HTTP receiver: what a collector (Tempo, Jaeger, the OpenTelemetry Collector) is sent.

Fixture `otlp_receiver` (function scope) serves on 127.0.0.1 with a free port and
accepts `POST /v1/traces` with an `application/x-protobuf` body (gzip or not), as the
OTLP specification's HTTP transport describes it: the body is an
`ExportTraceServiceRequest`, decoded here with `opentelemetry-proto`, and the answer
an empty `ExportTraceServiceResponse`. Anything else is refused (404, 415), so an
exporter posting to the wrong path or in JSON fails the test rather than passing
unseen. `OtlpReceiver.spans` are what arrived, flattened (`ReceivedSpan`);
`await wait_for(predicate)` polls until a span matching it arrived.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: str  # "" for a root span
    kind: str  # SERVER, CLIENT, INTERNAL
    attributes: dict[str, Any]
    service: str  # the resource's service.name
    start_ns: int
    end_ns: int
    status: str  # UNSET, OK, ERROR


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return getattr(value, which) if which is not None else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


@dataclass
class OtlpReceiver:
    spans: list[ReceivedSpan] = field(default_factory=list)
    posts: int = 0
    endpoint: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type != PROTOBUF:
            raise web.HTTPUnsupportedMediaType(text=f"not {PROTOBUF}: {request.content_type}")
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.posts += 1
        self.spans += decode(ExportTraceServiceRequest.FromString(body))
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type=PROTOBUF)

    async def wait_for(
        self, predicate: Callable[[ReceivedSpan], bool], count: int = 1, timeout: float = 10.0
    ) -> list[ReceivedSpan]:
        """The spans matching `predicate`, once at least `count` arrived (or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [span for span in self.spans if predicate(span)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.trace_id == trace_id]


def decode(export: ExportTraceServiceRequest) -> list[ReceivedSpan]:
    spans = []
    for resource_spans in export.resource_spans:
        service = str(_attributes(resource_spans.resource.attributes).get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                        attributes=_attributes(span.attributes),
                        service=service,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
                    )
                )
    return spans


@pytest_asyncio.fixture
async def otlp_receiver() -> AsyncIterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    app = web.Application()
    app.router.add_post("/v1/traces", receiver.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.endpoint = str(server.make_url("/v1/traces"))
    yield receiver
    await server.close()
