"""`observability:` — how the gateway lets itself be watched: OpenTelemetry tracing.

Contract: pure pydantic (no OpenTelemetry import: the SDK is an optional extra, and
a config that leaves tracing off must load without it; `ops.preflight` says when
`enabled: true` meets a host without `authgate[otel]`). Off by default.

`tracing.endpoint` is the OTLP/HTTP traces URL exactly as the exporter posts to it
(`http://tempo:4318/v1/traces`): the SDK appends nothing to an endpoint it is given,
so a bare `http://tempo:4318` would post to `/` and every span would be lost with a
404 in the log — refused here instead. Sampling: `parent_based` follows the sampled
flag of a parent a trusted proxy sent and samples `ratio` of the new traces;
`ratio` samples `ratio` of all traces whatever a parent says (docs/observability.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, Field, field_validator

from authgate.config.schema_types import Duration, Strict

DEFAULT_ENDPOINT = "http://127.0.0.1:4318/v1/traces"  # a collector beside the gateway


class TracingConfig(Strict):
    enabled: bool = False
    endpoint: AnyHttpUrl = AnyHttpUrl(DEFAULT_ENDPOINT)
    service_name: str = Field(default="authgate", min_length=1, max_length=255)
    sampler: Literal["parent_based", "ratio"] = "parent_based"
    ratio: float = Field(default=1.0, ge=0.0, le=1.0)  # of new traces (of all, with `ratio`)
    # The batch exporter's rhythm: spans wait at most `export_delay` in a queue of at
    # most `queue_size` (a full queue drops spans: the request path never waits).
    export_delay: Duration = 5.0
    queue_size: int = Field(default=2048, ge=1, le=1_000_000)
    timeout: Duration = 10.0  # one export POST

    @field_validator("endpoint")
    @classmethod
    def _traces_path(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if value.path in (None, "", "/"):
            raise ValueError(
                f"give the full OTLP/HTTP traces URL, e.g. {str(value).rstrip('/')}/v1/traces "
                "(the exporter posts to the URL as written)"
            )
        if value.query is not None or value.fragment is not None:
            raise ValueError("no query or fragment: write scheme://host:port/path")
        return value


class ObservabilityConfig(Strict):
    tracing: TracingConfig = Field(default_factory=TracingConfig)
