"""X-Request-Id reaches the upstream once, the gateway's own, whatever spellings the
client sent (`X_Request_Id`, `X.Request.Id`): a second id must not be smuggled into an
upstream's logs and traces (raw sockets, asserting on what the echo upstream got)."""

from __future__ import annotations

from collections.abc import Callable

from authgate.mutate.encoding import normalize_name
from tests.proxy.conftest import echo_gateway  # noqa: F401  (fixture)
from tests.proxy.helpers import echoed, get, raw_request
from tests.testbed.gateway import Gateway

SPELLINGS = ("X-Request-Id", "x_request_id", "X.Request.Id", "X_REQUEST-ID")


async def test_request_id_in_every_spelling_is_replaced_by_the_gateways(
    echo_gateway: Callable[..., Gateway],  # noqa: F811
) -> None:
    gateway = echo_gateway()
    extra = "".join(f"{name}: forged-{i}\r\n" for i, name in enumerate(SPELLINGS))
    status, headers, body = await raw_request(gateway.port, get("/r", extra=extra))
    assert status == 200
    ids = [v for k, v in echoed(body)["headers"] if normalize_name(k) == "x-request-id"]
    assert ids == [headers["x-request-id"]]
    assert not ids[0].startswith("forged")
    record = gateway.decisions(1)[0]
    assert record["request_id"] == ids[0]
    assert {s.lower() for s in SPELLINGS} <= set(record["stripped"])
