"""`routing.shadowing`: which later routes no request can reach — only the certain cases."""

from __future__ import annotations

from typing import Any

import pytest

from authgate.config.schema import RouteConfig
from authgate.routing.shadowing import shadowed_routes
from authgate.routing.table import compile_routes


def table(*matches: dict[str, Any]) -> list[tuple[int, int]]:
    configs = [
        RouteConfig.model_validate({"id": f"r{i}", "match": m, "upstream": "http://127.0.0.1:9"})
        for i, m in enumerate(matches)
    ]
    return shadowed_routes(compile_routes(configs).routes)


H = {"host": "a.test"}


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        pytest.param(H, {**H, "path_prefix": "/x"}, id="no-path-covers-all"),
        pytest.param({**H, "path_prefix": "/"}, {**H, "path_regex": "/a.*"}, id="root-covers-regex"),
        pytest.param({**H, "path_glob": "/**"}, {**H, "path_prefix": "/x"}, id="glob-all"),
        pytest.param({**H, "path_prefix": "/api"}, {**H, "path_prefix": "/api/v1"}, id="sub-prefix"),
        pytest.param({**H, "path_prefix": "/api"}, {**H, "path_prefix": "/api"}, id="same-prefix"),
        pytest.param({**H, "path_prefix": "/api"}, {**H, "path_prefix": "/api;v=1"}, id="semicolon"),
        pytest.param({**H, "path_prefix": "/api"}, {**H, "path_glob": "/api/*.json"}, id="glob-under"),
        pytest.param({**H, "path_prefix": "/api"}, {**H, "path_glob": "/api"}, id="literal-glob"),
        pytest.param({**H, "path_prefix": "/api/"}, {**H, "path_prefix": "/api/x"}, id="slash-prefix"),
        pytest.param({**H, "path_glob": "/static/**"}, {**H, "path_prefix": "/static/img"}, id="dir-glob"),
        pytest.param({**H, "path_regex": "/a+"}, {**H, "path_regex": "/a+"}, id="same-regex"),
        pytest.param({**H, "path_glob": "/u/*"}, {**H, "path_glob": "/u/*"}, id="same-glob"),
        pytest.param({"host": "*.test"}, H, id="wildcard-host"),
        pytest.param({"host": "*.test"}, {"host": "*.b.test"}, id="deeper-wildcard"),
        pytest.param({"host": ["a.test", "b.test"]}, H, id="host-superset"),
        pytest.param(H, {**H, "methods": ["GET"]}, id="all-methods"),
        pytest.param({**H, "methods": ["GET", "POST"]}, {**H, "methods": ["POST"]}, id="methods-superset"),
        pytest.param({**H, "methods": ["GET"]}, {**H, "methods": ["HEAD"]}, id="get-brings-head"),
    ],
)  # fmt: skip
def test_shadowed(earlier: dict[str, Any], later: dict[str, Any]) -> None:
    assert table(earlier, later) == [(1, 0)]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        pytest.param({**H, "path_prefix": "/api"}, {**H, "path_prefix": "/apix"}, id="not-a-segment"),
        pytest.param({**H, "path_prefix": "/api"}, {**H, "path_glob": "/api*"}, id="glob-past-segment"),
        pytest.param({**H, "path_prefix": "/api/"}, {**H, "path_prefix": "/api"}, id="wider-later"),
        pytest.param({**H, "path_prefix": "/api/v1"}, {**H, "path_prefix": "/api"}, id="narrower-earlier"),
        pytest.param({**H, "path_glob": "/static/**"}, {**H, "path_prefix": "/static"}, id="apex-of-glob"),
        pytest.param({**H, "path_glob": "/u/*"}, {**H, "path_glob": "/u/a"}, id="glob-not-judged"),
        pytest.param({**H, "path_regex": "/.*"}, {**H, "path_prefix": "/x"}, id="regex-not-judged"),
        pytest.param({**H, "path_regex": "/a+"}, {**H, "path_regex": "/aa+"}, id="regexes-not-compared"),
        pytest.param({**H, "path_prefix": "/x"}, {**H, "path_regex": "/x/.*"}, id="regex-later"),
        pytest.param(H, {"host": "b.test"}, id="other-host"),
        pytest.param(H, {"host": ["a.test", "b.test"]}, id="later-has-more-hosts"),
        pytest.param({"host": "*.test"}, {"host": "test"}, id="apex-not-under-wildcard"),
        pytest.param({"host": "a.test"}, {"host": "*.test"}, id="exact-not-wildcard"),
        pytest.param({**H, "methods": ["GET"]}, {**H, "methods": ["GET", "POST"]}, id="methods-subset"),
        pytest.param({**H, "methods": ["GET"]}, H, id="later-all-methods"),
    ],
)  # fmt: skip
def test_not_shadowed(earlier: dict[str, Any], later: dict[str, Any]) -> None:
    assert table(earlier, later) == []


def test_the_first_earlier_route_that_covers_is_named() -> None:
    assert table(
        {**H, "path_prefix": "/a"}, {**H, "path_prefix": "/"}, {**H, "path_prefix": "/a/b"}
    ) == [(2, 0)]
