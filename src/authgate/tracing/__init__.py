"""OpenTelemetry tracing of the request path: optional (`pip install authgate[otel]`).

Contract: `build_tracing(config)` is None when `observability.tracing.enabled` is
false — and then nothing of OpenTelemetry is imported by this package or any other
module of the gateway (tests/tracing/test_disabled.py checks it in a fresh
interpreter; redis-py imports its API on its own when installed): the request path's only cost is `auth.tracing is None`, read once per
request, and the `exchange.trace is None` checks at each stage. Enabled, it is a
`Tracing` (`tracing/provider.py`), built with the generation and kept while the
tracing config is unchanged (`authgate.generation.RESOURCES`). The span model, the
attributes and the sampling are in docs/observability.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from multidict import CIMultiDict

    from authgate.config.schema_observability import TracingConfig
    from authgate.routing import Route
    from authgate.server.exchange import Exchange
    from authgate.server.state import UpstreamTarget
    from authgate.tracing.provider import Tracing


class Trace(Protocol):
    """One request's spans, as the stages see them (`tracing/request.py` has the one
    implementation; this keeps the exchange's type free of OpenTelemetry)."""

    trace_id: str  # 32 hex digits

    def stage(self, name: str, attributes: Mapping[str, str | int | bool] | None = None) -> None: ...

    def upstream(self, headers: CIMultiDict[str], target: UpstreamTarget, method: str, path: str) -> None: ...

    def finish(self, exchange: Exchange, route: Route | None) -> None: ...


def build_tracing(config: TracingConfig) -> Tracing | None:
    if not config.enabled:
        return None
    # Here and only here: the SDK is an optional extra (ops.preflight checks it).
    from authgate.tracing.provider import Tracing

    return Tracing.build(config)
