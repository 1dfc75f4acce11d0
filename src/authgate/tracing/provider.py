"""`Tracing`: one OpenTelemetry tracer provider, its batch exporter and its sampler.

Contract (imported only when `observability.tracing.enabled`: `authgate.tracing`):

* `Tracing.build(config)` makes a `TracerProvider` of its own — never the global
  one, so a library that finds a global provider cannot start exporting through
  ours, and a reload can replace it — with the resource `service.name` (config) and
  `service.version`, the sampler (`parent_based`: `ParentBased(TraceIdRatioBased)`,
  `ratio`: `TraceIdRatioBased` alone), attribute values capped at 2 KiB (a path or
  a User-Agent is the client's to make long), and a `BatchSpanProcessor` over the
  OTLP/HTTP protobuf exporter posting to `config.endpoint`. The exporter runs on the
  processor's own thread: a request only appends its finished spans to a bounded
  queue (full: spans are dropped and the SDK logs it), it never waits on the network.
  The exporter reads `OTEL_EXPORTER_OTLP_TRACES_HEADERS` and the certificate
  variables itself, so a collector's token stays out of the config file.
* `begin(wire, facts)` is a `RequestTrace` (`tracing/request.py`).
* `close()` flushes what is queued and stops the thread (awaitable: the final
  export may take `config.timeout`); the generation that drops this `Tracing` calls
  it after its last request (`authgate.generation`). `flush()` is for tests.
* `exporter_for(config)` is the one place the exporter is built; tests replace it
  with the SDK's `InMemorySpanExporter` (`tests/tracing/`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased

from authgate import __version__
from authgate.tracing.request import RequestTrace

if TYPE_CHECKING:
    from authgate.config.schema_observability import TracingConfig
    from authgate.facts import RequestFacts
    from authgate.wire import Wire

_MAX_ATTRIBUTE_LENGTH = 2048
_BATCH = 512  # spans per export POST (the SDK's default)


def exporter_for(config: TracingConfig) -> SpanExporter:
    return OTLPSpanExporter(endpoint=str(config.endpoint), timeout=config.timeout)


def sampler_for(config: TracingConfig) -> Sampler:
    ratio = TraceIdRatioBased(config.ratio)
    return ParentBased(ratio) if config.sampler == "parent_based" else ratio


class Tracing:
    """What one tracing config builds; kept across reloads that leave it unchanged."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("authgate", __version__)

    @classmethod
    def build(cls, config: TracingConfig) -> Tracing:
        resource = Resource.create({SERVICE_NAME: config.service_name, SERVICE_VERSION: __version__})
        provider = TracerProvider(
            sampler=sampler_for(config),
            resource=resource,
            shutdown_on_exit=False,  # closed by the generation that drops it, flushed then
            span_limits=SpanLimits(max_attribute_length=_MAX_ATTRIBUTE_LENGTH),
        )
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter_for(config),
                max_queue_size=config.queue_size,
                schedule_delay_millis=config.export_delay * 1000,
                max_export_batch_size=min(_BATCH, config.queue_size),
                export_timeout_millis=config.timeout * 1000,
            )
        )
        return cls(provider)

    def begin(self, wire: Wire, facts: RequestFacts) -> RequestTrace:
        return RequestTrace(self._tracer, wire, facts)

    def flush(self, timeout_millis: int = 5000) -> bool:
        return self._provider.force_flush(timeout_millis)

    async def close(self) -> None:
        await asyncio.to_thread(self._provider.shutdown)
