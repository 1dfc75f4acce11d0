"""A real `authgate serve` exports its spans to a real OTLP/HTTP receiver — both front ends.

The receiver (tests/testbed/otlp.py) decodes the protobuf the SDK's exporter posts.
One gateway per test, with `server.trusted_proxies: [127.0.0.2/32]`: a request sent
from 127.0.0.2 comes from a trusted proxy, one from 127.0.0.1 from a client. The echo
upstream (tests/testbed/echo.py) shows what traceparent went upstream; the decision
log and the gateway's stderr show the trace id.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.dataplane.front_ends import FRONT_ENDS, server_section
from tests.proxy.conftest import public_route
from tests.proxy.helpers import echoed, header_values
from tests.testbed.gateway import Gateway
from tests.testbed.otlp import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.parametrize("front_end", FRONT_ENDS)

PROXY = "127.0.0.2"  # trusted
CLIENT = "127.0.0.1"  # not
PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
STAGES = ["authgate.facts", "authgate.authenticate", "authgate.adaptive", "authgate.decide"]


def traceparent(flags: str = "01", trace: str = PARENT_TRACE, span: str = PARENT_SPAN) -> str:
    return f"00-{trace}-{span}-{flags}"


def tracing_config(
    front_end: str, receiver: OtlpReceiver, upstream: str, **tracing: Any
) -> dict[str, Any]:
    return {
        "server": {**server_section(front_end), "trusted_proxies": [f"{PROXY}/32"]},
        "observability": {
            "tracing": {"enabled": True, "endpoint": receiver.endpoint, "export_delay": "50ms", **tracing}
        },
        "routes": [
            public_route(upstream),
            {**public_route("http://127.0.0.1:9"), "id": "down", "match": {"host": "down.test"}},
        ],
    }


@pytest.fixture
def traced_gateway(
    front_end: str,
    otlp_receiver: OtlpReceiver,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
) -> Callable[..., Gateway]:
    def make(**tracing: Any) -> Gateway:
        upstream = str(echo_upstream.make_url("/")).rstrip("/")
        return gateway_factory(tracing_config(front_end, otlp_receiver, upstream, **tracing))

    return make


async def send(
    gateway: Gateway,
    target: str,
    headers: list[tuple[str, str]],
    *,
    source: str = CLIENT,
    host: str = "echo.test",
) -> tuple[int, dict[str, str], bytes]:
    """One request from `source` (its local address: trusted proxy or client)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port, local_addr=(source, 0))
    try:
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}", *(f"{n}: {v}" for n, v in headers)]
        writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1"))
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    answer = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
    return int(status_line.split(" ")[1]), answer, body


def upstream_traceparent(body: bytes) -> tuple[str, str, str]:
    """trace id, parent id and flags of the one traceparent the echo upstream got."""
    values = header_values(echoed(body), "traceparent")
    assert len(values) == 1, values
    version, trace_id, parent_id, flags = values[0].split("-")
    assert version == "00"
    return trace_id, parent_id, flags


async def spans_of(receiver: OtlpReceiver, trace_id: str, count: int) -> dict[str, ReceivedSpan]:
    spans = await receiver.wait_for(lambda span: span.trace_id == trace_id, count)
    assert len(spans) == count, [s.name for s in spans]
    return {span.name: span for span in spans}


async def test_a_span_per_request_and_per_stage_and_a_new_trace_for_a_client(
    traced_gateway: Callable[..., Gateway], otlp_receiver: OtlpReceiver
) -> None:
    gateway = traced_gateway(service_name="edge-gw")
    status, answer, body = await send(
        gateway, "/orders/7?token=secret",
        [("traceparent", traceparent()), ("tracestate", "vendor=chosen"), ("User-Agent", "probe/1")],
    )  # fmt: skip
    assert status == 200
    trace_id, parent_id, flags = upstream_traceparent(body)
    # The client's trace context is neither believed nor forwarded.
    assert trace_id != PARENT_TRACE and parent_id != PARENT_SPAN
    assert header_values(echoed(body), "tracestate") == []
    spans = await spans_of(otlp_receiver, trace_id, len(STAGES) + 3)
    root = spans["GET /**"]
    assert (root.kind, root.parent_id, root.service, root.status) == ("SERVER", "", "edge-gw", "UNSET")
    for name in [*STAGES, "authgate.limit"]:
        assert (spans[name].parent_id, spans[name].kind) == (root.span_id, "INTERNAL"), name
    upstream = spans["GET"]
    assert (upstream.kind, upstream.parent_id) == ("CLIENT", root.span_id)
    # The upstream's server span is a child of ours: the traceparent it got names it.
    assert (parent_id, int(flags, 16) & 1) == (upstream.span_id, 1)  # sampled
    record = gateway.record(answer["x-request-id"])
    assert root.attributes | {"server.port": 0} == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/orders/7",  # never the query
        "server.address": "echo.test",
        "server.port": 0,
        "client.address": CLIENT,
        "network.peer.address": CLIENT,
        "network.protocol.version": "1.1",
        "user_agent.original": "probe/1",
        "authgate.request_id": answer["x-request-id"],
        "http.response.status_code": 200,
        "http.route": "/**",
        "authgate.route": "echo",
        "authgate.decision": "allow",
        "authgate.reason": "route-public",
        "authgate.rule": record["rule"],  # the decision record's, word for word
    }
    assert upstream.attributes["http.response.status_code"] == 200
    assert "token" not in upstream.attributes["url.full"]
    assert spans["authgate.decide"].attributes["authgate.decision"] == "allow"
    # Stages run one after another, inside the request's span.
    order = [spans[name] for name in [*STAGES, "authgate.limit"]]
    assert all(a.end_ns <= b.start_ns for a, b in zip(order, order[1:]))
    assert root.start_ns <= order[0].start_ns and upstream.end_ns <= root.end_ns
    assert record["trace_id"] == trace_id
    assert record["stripped"] == ["traceparent", "tracestate"]


async def test_a_trusted_proxy_s_traceparent_is_the_parent(
    traced_gateway: Callable[..., Gateway], otlp_receiver: OtlpReceiver
) -> None:
    gateway = traced_gateway()
    status, answer, body = await send(
        gateway, "/", [("traceparent", traceparent()), ("tracestate", "vendor=abc,other=1")], source=PROXY
    )
    assert status == 200
    trace_id, parent_id, _ = upstream_traceparent(body)
    assert trace_id == PARENT_TRACE
    spans = await spans_of(otlp_receiver, PARENT_TRACE, len(STAGES) + 3)
    root, upstream = spans["GET /**"], spans["GET"]
    assert root.parent_id == PARENT_SPAN
    assert root.attributes["network.peer.address"] == PROXY
    assert parent_id == upstream.span_id and upstream.parent_id == root.span_id
    # The vendors' state travels on with the trace (W3C Trace Context §3.3).
    assert header_values(echoed(body), "tracestate") == ["vendor=abc,other=1"]
    record = gateway.record(answer["x-request-id"])
    assert (record["trace_id"], record["stripped"]) == (PARENT_TRACE, [])


async def test_parent_based_sampling_follows_an_unsampled_trusted_parent(
    traced_gateway: Callable[..., Gateway], otlp_receiver: OtlpReceiver
) -> None:
    gateway = traced_gateway()
    status, answer, body = await send(gateway, "/", [("traceparent", traceparent("00"))], source=PROXY)
    assert status == 200
    trace_id, parent_id, flags = upstream_traceparent(body)
    assert (trace_id, int(flags, 16) & 1) == (PARENT_TRACE, 0)  # propagated, not sampled
    assert parent_id != PARENT_SPAN
    assert gateway.record(answer["x-request-id"])["trace_id"] == PARENT_TRACE
    # A sampled request after it is exported; the unsampled one never is.
    status, _, later = await send(gateway, "/", [])
    assert status == 200
    await spans_of(otlp_receiver, upstream_traceparent(later)[0], len(STAGES) + 3)
    assert otlp_receiver.trace(PARENT_TRACE) == []


async def test_a_malformed_or_doubled_trusted_traceparent_starts_a_new_trace(
    traced_gateway: Callable[..., Gateway], otlp_receiver: OtlpReceiver
) -> None:
    gateway = traced_gateway()
    for sent in (
        [("traceparent", traceparent().upper())],  # W3C: lowercase hex only
        [("traceparent", traceparent()), ("traceparent", traceparent(span="1" * 16))],
        [("traceparent", traceparent(trace="0" * 32))],
    ):
        status, _, body = await send(gateway, "/", sent, source=PROXY)
        assert status == 200
        trace_id, _, _ = upstream_traceparent(body)
        assert trace_id != PARENT_TRACE, sent
        spans = await spans_of(otlp_receiver, trace_id, len(STAGES) + 3)
        assert spans["GET /**"].parent_id == ""


async def test_refusals_and_upstream_failures_are_traced_and_logged_with_the_trace_id(
    traced_gateway: Callable[..., Gateway], otlp_receiver: OtlpReceiver
) -> None:
    gateway = traced_gateway()
    status, answer, _ = await send(gateway, "/", [], host="nowhere.test")
    assert status == 404
    record = gateway.record(answer["x-request-id"])
    spans = await spans_of(otlp_receiver, record["trace_id"], len(STAGES) + 1)
    root = spans["GET"]  # no route: the method alone names it
    assert set(spans) == {"GET", *STAGES}
    assert (root.attributes["http.response.status_code"], root.attributes["authgate.decision"]) == (404, "deny")

    status, answer, _ = await send(gateway, "/", [], host="down.test")
    assert status == 502
    record = gateway.record(answer["x-request-id"])
    trace_id = record["trace_id"]
    spans = await spans_of(otlp_receiver, trace_id, len(STAGES) + 3)
    root, upstream = spans["GET /**"], spans["GET"]
    assert (root.status, root.attributes["error.type"]) == ("ERROR", "upstream-unreachable")
    assert (upstream.status, upstream.attributes["error.type"]) == ("ERROR", "upstream-unreachable")
    # The operational log's line about it names the request and its trace.
    pattern = rf"unreachable.*\[request {re.escape(answer['x-request-id'])} trace {trace_id}\]"
    for _ in range(50):
        if re.search(pattern, gateway.stderr()):
            break
        await asyncio.sleep(0.05)
    assert re.search(pattern, gateway.stderr()), gateway.stderr()[-2000:]
