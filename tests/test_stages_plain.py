"""Stages take values, not the framework's request (STYLE.md lesson 15).

The request is read once at the edge (`server/edge.py` builds the `Wire`); every
stage of the pipeline, the answers and the verdict take the `Wire` and an
explicitly passed `AuthRuntime`, so a second front end (the data plane) runs the
same code. This walks every function those modules define — resolved annotations,
not names — and fails on a parameter typed as aiohttp's request, or on a module that
still reaches for the pinned AuthRuntime through the request (`auth_of`).
"""

from __future__ import annotations

import importlib
import inspect
import ssl
import typing
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

# The modules below the edge: everything the verdict runs.
STAGE_MODULES = [
    "authgate.wire",
    "authgate.server.facts",
    "authgate.server.pipeline",
    "authgate.server.authenticate",
    "authgate.server.adaptive",
    "authgate.server.limit_stage",
    "authgate.server.abuse",
    "authgate.server.answers",
    "authgate.server.forward_plan",
    "authgate.server.verdict",
    "authgate.server.exchange",
    "authgate.server.cookies",
    "authgate.server.body_limit",
]
# The aiohttp halves that live beside plain code: they hand the limit to aiohttp's
# connection and answer `Expect`, on the aiohttp front end only.
EDGE_FUNCTIONS = {
    "authgate.server.body_limit": {"limit_stream", "expect_continue"},
}


def _functions(module: ModuleType) -> Iterator[Callable[..., object]]:
    for _, obj in inspect.getmembers(module, inspect.isfunction):
        if obj.__module__ == module.__name__:
            yield obj
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if cls.__module__ == module.__name__:
            for _, method in inspect.getmembers(cls, inspect.isfunction):
                yield method


def _mentions_request(hint: object) -> bool:
    if isinstance(hint, type) and issubclass(hint, web.BaseRequest):
        return True
    return any(_mentions_request(arg) for arg in typing.get_args(hint))


def request_parameters(module: ModuleType) -> list[str]:
    """`function(parameter)` for each parameter typed as an aiohttp request."""
    found = []
    for function in _functions(module):
        # Names a module imports for annotations only (`if TYPE_CHECKING:`).
        names = {"CIMultiDictProxy": CIMultiDictProxy, "ssl": ssl, **vars(module)}
        hints = typing.get_type_hints(function, names)
        found += [
            f"{function.__qualname__}({name})"
            for name, hint in hints.items()
            if name != "return" and _mentions_request(hint)
        ]
    return found


@pytest.mark.parametrize("name", STAGE_MODULES)
def test_stage_takes_no_framework_request(name: str) -> None:
    module = importlib.import_module(name)
    allowed = EDGE_FUNCTIONS.get(name, set())
    taking = [f for f in request_parameters(module) if f.partition("(")[0] not in allowed]
    assert taking == []


@pytest.mark.parametrize("name", STAGE_MODULES)
def test_stage_gets_the_auth_runtime_passed(name: str) -> None:
    # `auth_of(request)` would read the pinned AuthRuntime off the request: a stage
    # gets it as a parameter, from whichever front end pinned it.
    assert not hasattr(importlib.import_module(name), "auth_of")


def test_the_check_finds_a_request_parameter() -> None:
    # The edge takes the request: the same walk must see it, or the tests above prove nothing.
    handler = importlib.import_module("authgate.server.handler")
    assert "handle(request)" in request_parameters(handler)
    body_limit = importlib.import_module("authgate.server.body_limit")
    assert "limit_stream(request)" in request_parameters(body_limit)


def test_the_edge_builds_the_wire_from_a_request() -> None:
    edge = importlib.import_module("authgate.server.edge")
    assert "wire_from_aiohttp(request)" in request_parameters(edge)
