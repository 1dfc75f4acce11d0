"""The front ends the data-plane tests run against, and the config that picks one.

`server.data_plane` chooses who speaks HTTP/1.1 on the gateway's port: "native" (the
gateway's own data plane, `authgate.dataplane`: httptools/llhttp in strict mode on
uvloop) or "aiohttp" (aiohttp's server). The tests in this package talk raw sockets
to a real `authgate serve`, so the same expectations hold for both.

Where `authgate.config.schema.ServerConfig` has no `data_plane` field, the strict
schema refuses the key and aiohttp is the only front end: FRONT_ENDS is ("aiohttp",)
and no key is written. Where the field exists (checked here, at import), "native" is
generated too, and the key is written for both values: once the default becomes
"native", an "aiohttp" run that wrote nothing would quietly test the native plane.

`depart_on_aiohttp` marks an expectation that aiohttp is known to miss as a strict
xfail on the runs aiohttp serves — "aiohttp", and "native" while no
`authgate.dataplane` package acts on the key — so main stays green and a fix shows
up as an XPASS; the native data plane gets no such mark.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from authgate.config.schema import ServerConfig

HAS_DATA_PLANE_KEY = "data_plane" in ServerConfig.model_fields
FRONT_ENDS: tuple[str, ...] = ("native", "aiohttp") if HAS_DATA_PLANE_KEY else ("aiohttp",)
HAS_NATIVE_PLANE = importlib.util.find_spec("authgate.dataplane") is not None


def server_section(front_end: str) -> dict[str, Any]:
    """The `server:` keys that select `front_end` (none while the key does not exist)."""
    assert front_end in FRONT_ENDS, front_end
    return {"data_plane": front_end} if HAS_DATA_PLANE_KEY else {}


def served_by_aiohttp(front_end: str) -> bool:
    return front_end == "aiohttp" or not HAS_NATIVE_PLANE


def depart_on_aiohttp(request: pytest.FixtureRequest, front_end: str, how: str | None) -> None:
    """Expect this test to fail where aiohttp serves it (`how` it departs; None: not)."""
    if how is not None and served_by_aiohttp(front_end):
        mark = pytest.mark.xfail(reason=f"aiohttp: {how}", raises=AssertionError, strict=True)
        request.applymarker(mark)


def depart_on_native(request: pytest.FixtureRequest, front_end: str, how: str | None) -> None:
    """Expect this test to fail where the native data plane serves it (`how` it departs)."""
    if how is not None and not served_by_aiohttp(front_end):
        mark = pytest.mark.xfail(reason=f"native: {how}", raises=AssertionError, strict=True)
        request.applymarker(mark)
