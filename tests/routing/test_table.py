"""RouteTable: first match in file order, host buckets, statuses; compile problems.

The table under test is `files/routes.yaml`; requests go through the same
normalization the server applies (`normalize_host`, `split_target`, `normalize_path`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from authgate.config.errors import ConfigError
from authgate.config.schema import GatewayConfig
from authgate.routing import (
    RouteLookup,
    RouteTable,
    Upstream,
    compile_routes,
    normalize_host,
    normalize_path,
    split_target,
)

FILES = Path(__file__).parent / "files"


def _table(data: dict[str, Any]) -> RouteTable:
    return compile_routes(GatewayConfig.model_validate(data).routes)


@pytest.fixture(scope="module")
def table() -> RouteTable:
    return _table(yaml.safe_load((FILES / "routes.yaml").read_text()))


def lookup(table: RouteTable, host: str, target: str, method: str = "GET") -> RouteLookup:
    raw_path, _ = split_target(target)
    return table.match(normalize_host(host), normalize_path(raw_path), method)


LOOKUPS = [
    # (Host header, target, method, route id or status)
    ("app.example.com", "/admin", "GET", "admin"),
    ("app.example.com", "/admin/users", "DELETE", "admin"),
    ("app.example.com", "/adminx", "GET", "app"),  # prefix is segment-aware
    ("app.example.com", "/admin;x=1/y", "GET", "admin"),  # Tomcat reads it as /admin/y
    ("app.example.com", "/static/../admin", "GET", "admin"),  # normalized first
    ("app.example.com", "//admin", "GET", "admin"),
    ("app.example.com", "/%61dmin", "GET", "admin"),
    ("app.example.com", "/api/items", "POST", "api-write"),
    ("app.example.com", "/api/items", "GET", "api-read"),
    ("app.example.com", "/api/items", "HEAD", "api-read"),  # HEAD rides with GET
    ("app.example.com", "/api/items", "DELETE", "app"),  # falls through to the catch-all
    ("app.example.com", "/api/items", "get", "app"),  # methods are case-sensitive
    ("app.example.com", "/api/items?x=1", "PUT", "api-write"),
    # TRACE is never implied by a route without methods (Cross-Site Tracing)
    ("app.example.com", "/x", "TRACE", "method-not-allowed"),
    ("app.example.com", "/admin", "TRACE", "method-not-allowed"),
    # host spelling
    ("APP.Example.COM", "/admin", "GET", "admin"),
    ("app.example.com.", "/admin", "GET", "admin"),
    ("app.example.com:8080", "/admin", "GET", "admin"),
    ("a.example.com:8080", "/", "GET", "wild"),
    ("app2.example.com", "/x", "GET", "app"),  # pattern App2.Example.com. normalized
    # wildcard vs exact: file order decides, not specificity
    ("app.example.com", "/wild/x", "GET", "wild-early"),
    ("app.example.com", "/x", "GET", "app"),
    ("x.example.com", "/wild/x", "GET", "wild-early"),
    ("x.example.com", "/x", "GET", "wild"),
    ("x.y.example.com", "/x", "GET", "wild"),  # any depth
    # several wildcard buckets (b.example.com and example.com), merged in file order
    ("q.b.example.com", "/deep/x", "GET", "deep-wild"),
    ("q.b.example.com", "/deeper", "GET", "wild"),  # regex is a full match
    ("q.b.example.com", "/wild/a", "GET", "wild-early"),
    ("b.example.com", "/deep", "GET", "wild"),  # apex of *.b.example.com
    # statuses
    ("example.com", "/", "GET", "host-unknown"),  # apex of *.example.com
    ("unknown.example.net", "/", "GET", "host-unknown"),
    ("example.org", "/", "GET", "host-unknown"),
    ("[::1]", "/", "GET", "host-unknown"),
    ("reports.example.org", "/reports/1/export", "GET", "reports"),
    ("reports.example.org", "/reports/1/export", "HEAD", "reports"),
    ("reports.example.org", "/reports/1/2/export", "GET", "path-unknown"),
    ("reports.example.org", "/other", "GET", "path-unknown"),
    ("reports.example.org", "/reports/1/export", "POST", "method-not-allowed"),
    ("reports.example.org", "/forms/a", "GET", "method-not-allowed"),
    ("reports.example.org", "/forms/a", "POST", "forms"),
]


@pytest.mark.parametrize(("host", "target", "method", "expected"), LOOKUPS)
def test_lookup(table: RouteTable, host: str, target: str, method: str, expected: str) -> None:
    found = lookup(table, host, target, method)
    if found.route is None:
        assert found.status == expected
    else:
        assert (found.status, found.route.id) == ("ok", expected)


def test_method_not_allowed_names_the_allowed_methods(table: RouteTable) -> None:
    found = lookup(table, "reports.example.org", "/reports/1/export", "DELETE")
    assert found == RouteLookup(None, "method-not-allowed", frozenset({"GET", "HEAD"}))


def test_statuses_carry_no_route(table: RouteTable) -> None:
    assert lookup(table, "nobody.test", "/") == RouteLookup(None, "host-unknown")
    assert lookup(table, "reports.example.org", "/x") == RouteLookup(None, "path-unknown")


def test_route_fields(table: RouteTable) -> None:
    api = table.by_id("api-write")
    assert api.upstream == Upstream("http", "10.0.0.2", 8000, "/v1")
    assert api.methods == frozenset({"POST", "PUT"})
    assert (api.connect_timeout, api.read_timeout, api.preserve_host) == (None, None, False)
    assert api.config.id == "api-write"
    reports = table.by_id("reports")
    assert reports.methods == frozenset({"GET", "HEAD"})
    assert reports.preserve_host is True
    assert (reports.connect_timeout, reports.read_timeout) == (2.0, None)
    wild = table.by_id("wild")
    assert wild.upstream == Upstream("https", "::1", 443, "/base")
    assert (wild.connect_timeout, wild.read_timeout) == (None, 300.0)
    assert wild.methods is None
    assert table.by_id("admin").upstream.base_path == ""


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/static/app.css", True), ("/static/a/b", True), ("/healthz", True),
     ("/healthz/x", False), ("/static", False), ("/", False), ("/admin", False)],
)
def test_is_public(table: RouteTable, path: str, expected: bool) -> None:
    assert table.by_id("app").is_public(path) is expected


def test_hosts_and_ids(table: RouteTable) -> None:
    assert table.hosts == (
        "app.example.com",
        "*.example.com",
        "app2.example.com",
        "*.b.example.com",
        "reports.example.org",
    )
    assert [route.id for route in table.routes][:3] == ["admin", "api-write", "api-read"]
    with pytest.raises(KeyError):
        table.by_id("nope")


@pytest.mark.parametrize(
    ("host", "expected"),
    [("app.example.com", True), ("z.example.com", True), ("example.com", False),
     ("evil.test", False)],
)
def test_serves_host(table: RouteTable, host: str, expected: bool) -> None:
    assert table.serves_host(host) is expected


def test_empty_table_knows_no_host() -> None:
    assert compile_routes([]).match("a.test", "/", "GET") == RouteLookup(None, "host-unknown")


def test_duplicate_host_patterns_in_one_route() -> None:
    table = _table(
        {"routes": [{"id": "r", "match": {"host": ["*.example.com", "*.a.example.com"]},
                     "upstream": "http://u"}]}
    )
    assert table.match("x.a.example.com", "/", "GET").route is table.by_id("r")


def _route(index: int, **fields: Any) -> dict[str, Any]:
    route: dict[str, Any] = {"id": f"r{index}", "match": {"host": "a.test"}, "upstream": "http://u"}
    route.update(fields)
    return route


def test_compile_reports_every_problem_with_its_key() -> None:
    # Shapes the schema accepts, rules only the router knows.
    config = GatewayConfig.model_validate(
        {
            "routes": [
                _route(0, match={"host": "a.test", "path_prefix": "/a/%2F"}),
                _route(1, match={"host": ["a.test", "[1:2]"], "path_glob": "/**a*b**"}),
                _route(2, public=["/ok/**", "/x/../y"]),
                _route(3, match={"host": ("a" * 60 + ".") * 5 + "test"}),
                _route(4, upstream="http://u/..;/x"),
            ]
        }
    )
    with pytest.raises(ConfigError) as caught:
        compile_routes(config.routes)
    keys = [problem.key for problem in caught.value.problems]
    assert keys == [
        "routes[0].match.path_prefix",
        "routes[1].match.host[1]",
        "routes[1].match.path_glob",
        "routes[2].public[1]",
        "routes[3].match.host",
        "routes[4].upstream",
    ]
    first = caught.value.problems[0]
    assert (first.file, first.line) == ("", None)  # the snapshot builder fills these in
    assert "'/a/%2F'" in first.message and "%2F" in first.message



def test_trace_refusal_names_the_common_methods(table: RouteTable) -> None:
    found = lookup(table, "app.example.com", "/x", "TRACE")
    assert "GET" in found.allow and "TRACE" not in found.allow
