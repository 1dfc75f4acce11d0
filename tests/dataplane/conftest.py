"""Fixtures of the data-plane tests: one gateway per module and front end.

`dataplane_gateway` is a real `authgate serve` (tests/testbed/gateway.py) for the
front end of the `front_end` param (front_ends.FRONT_ENDS), in front of the module's
`recording_upstream`, with two public routes: `echo.test` to the upstream's root and
`based.test` to its base path `BASE_PATH`. Module scope: the table and the property
test send many requests, each on its own connection, and find their records by id.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dataplane.front_ends import FRONT_ENDS, server_section
from tests.dataplane.recording_upstream import RecordingUpstream, recording_upstream
from tests.proxy.conftest import public_route
from tests.testbed.gateway import Gateway, start_gateway

__all__ = ["recording_upstream"]  # the fixture, imported for this package

BASE_PATH = "/base/v1"  # the `based` route's upstream path (docs/architecture.md)


@pytest.fixture(scope="module", params=FRONT_ENDS)
def front_end(request: pytest.FixtureRequest) -> str:
    front: str = request.param
    return front


@pytest.fixture(scope="module")
def dataplane_gateway(
    front_end: str,
    recording_upstream: RecordingUpstream,  # noqa: F811  (fixture)
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    routes = [
        public_route(recording_upstream.url),
        public_route(
            recording_upstream.url + BASE_PATH, id="based", match={"host": "based.test"}
        ),
    ]
    config = {"server": server_section(front_end), "routes": routes}
    gateway = start_gateway(config, tmp_path_factory.mktemp(f"gateway-{front_end}"))
    yield gateway
    gateway.stop()
