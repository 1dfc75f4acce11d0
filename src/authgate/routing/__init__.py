"""Routing: normalize the request target and Host, then find the route.

Contract: pure — stdlib plus `authgate.config` types and errors; no aiohttp, redis,
authlib or yarl (checked by a test). The path that routes match is the path sent
upstream (`normalize_path`), so the gateway and the upstream never disagree about
the resource. See `docs/path-normalization.md`.
"""

from authgate.routing.host import HostRejected, normalize_host, normalize_host_pattern
from authgate.routing.matchers import (
    ExactHost,
    GlobMatcher,
    HostMatcher,
    PathMatcher,
    PrefixMatcher,
    RegexMatcher,
    WildcardHost,
    compile_glob,
    compile_host,
    compile_methods,
    compile_prefix,
    compile_regex,
)
from authgate.routing.normalize import (
    PathRejected,
    check_query,
    normalize_path,
    normalize_pattern,
    split_target,
)
from authgate.routing.table import (
    LookupStatus,
    Route,
    RouteLookup,
    RouteTable,
    Upstream,
    compile_routes,
)

__all__ = [
    "ExactHost",
    "GlobMatcher",
    "HostMatcher",
    "HostRejected",
    "LookupStatus",
    "PathMatcher",
    "PathRejected",
    "PrefixMatcher",
    "RegexMatcher",
    "Route",
    "RouteLookup",
    "RouteTable",
    "Upstream",
    "WildcardHost",
    "check_query",
    "compile_glob",
    "compile_host",
    "compile_methods",
    "compile_prefix",
    "compile_regex",
    "compile_routes",
    "normalize_host",
    "normalize_host_pattern",
    "normalize_path",
    "normalize_pattern",
    "split_target",
]
