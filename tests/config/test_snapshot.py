"""`build_snapshot`: load + compile; compile problems are pointed at lines.

Route compilation is replaced by a stand-in module here, so these tests pin down the
snapshot's own contract whatever state `authgate.routing` is in.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import pytest

from authgate.config.errors import ConfigError, ConfigProblem
from authgate.config.schema import RouteConfig
from authgate.config.snapshot import build_snapshot

FILES = Path(__file__).parent / "files"


def install_compiler(monkeypatch: pytest.MonkeyPatch, compile_routes: object) -> None:
    module = types.ModuleType("authgate.routing.table")
    module.compile_routes = compile_routes  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "authgate.routing.table", module)


def test_snapshot_holds_config_table_and_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    install_compiler(monkeypatch, lambda routes: ("table", [r.id for r in routes]))
    before = time.time()
    snapshot = build_snapshot(str(FILES / "minimal.yaml"), {})
    assert cast(object, snapshot.routes) == ("table", ["web"])
    assert snapshot.config.routes[0].id == "web"
    assert snapshot.source == str(FILES / "minimal.yaml")
    assert before <= snapshot.loaded_at <= time.time()


def test_compile_problems_get_file_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def compile_routes(routes: Sequence[RouteConfig]) -> object:
        raise ConfigError(
            [
                ConfigProblem("", None, "routes[1].match.methods", "from the router"),
                ConfigProblem("", None, "routes[0]", "whole route"),
                ConfigProblem("", None, "not a key path!", "kept as is"),
                ConfigProblem("elsewhere.yaml", 9, "x", "already located"),
            ]
        )

    install_compiler(monkeypatch, compile_routes)
    path = str(FILES / "routes_lines.yaml").replace("routes_lines", "compile_problems")
    with pytest.raises(ConfigError) as caught:
        build_snapshot(path, {})
    assert [str(problem) for problem in caught.value.problems] == [
        f"{path} not a key path!: kept as is",
        f"{path}:2 routes[0]: whole route",
        f"{path}:8 routes[1].match.methods: from the router",
        "elsewhere.yaml:9 x: already located",
    ]


def test_load_problems_do_not_need_the_router(monkeypatch: pytest.MonkeyPatch) -> None:
    def compile_routes(routes: Sequence[RouteConfig]) -> object:
        raise AssertionError("compile must not run on an invalid config")

    install_compiler(monkeypatch, compile_routes)
    with pytest.raises(ConfigError):
        build_snapshot(FILES / "three_mistakes.yaml", {})


def test_real_router_problems_point_at_lines() -> None:
    path = str(FILES / "uncompilable.yaml")
    with pytest.raises(ConfigError) as caught:
        build_snapshot(path, {})
    # The wording is the router's; the file, line and key are this module's job.
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.key) == (path, 12, "routes[1].public[1]")
