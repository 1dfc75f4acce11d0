"""The route table: validated `RouteConfig`s compiled into an immutable lookup.

Contract: `compile_routes(configs)` returns a `RouteTable`, or raises `ConfigError`
listing every pattern that cannot be compiled, each keyed by its path in the file
(`routes[2].match.path_glob`) so the snapshot builder can add file and line.
`RouteTable.match(host, path, method)` takes the outputs of `normalize_host` and
`normalize_path` (and the method as received) and returns a `RouteLookup`:

    ok                  the first route, in file order, matching host, path and method
    host-unknown        no route names this host
    path-unknown        routes name the host, none matches the path
    method-not-allowed  some route matches host and path, none the method; `allow`
                        lists the methods that would have matched (for `Allow`,
                        RFC 9110 §15.5.6)

Exact hosts are looked up in a dict built at compile time, holding every route that
can answer that host (exact and wildcard, in file order), so a request scans only
its own host's routes. A host named by no exact pattern is looked up by its parent
domains in the wildcard buckets. Pure module: no aiohttp, no yarl.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, TypeVar

from authgate.config.errors import ConfigError, ConfigProblem, KeyPath, format_key_path
from authgate.routing.matchers import (
    ExactHost,
    GlobMatcher,
    HostMatcher,
    PathMatcher,
    PrefixMatcher,
    WildcardHost,
    compile_glob,
    compile_host,
    compile_methods,
    compile_prefix,
    compile_regex,
)
from authgate.routing.normalize import normalize_path

if TYPE_CHECKING:
    from pydantic import AnyHttpUrl

    from authgate.config.schema import RouteConfig, RouteMatch, UpstreamTimeouts

LookupStatus = Literal["ok", "host-unknown", "path-unknown", "method-not-allowed"]
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where a route forwards to, as plain pieces (no URL library here)."""

    scheme: str
    host: str  # as in a URL authority, IPv6 without brackets (yarl's `raw_host`)
    port: int
    base_path: str  # normalized, no trailing slash; "" for the root


# A route that lists no methods serves every method but these: TRACE (and IIS's TRACK)
# echo the request, cookies and credentials included, back to the client — the
# Cross-Site Tracing class (CVE-2004-2320; OWASP "Test HTTP Methods"). nginx refuses
# them too. A route that wants them lists them in `match.methods`.
NEVER_IMPLIED: frozenset[str] = frozenset({"TRACE", "TRACK"})
# What `Allow` names (RFC 9110 §15.5.6) for a route that lists no methods.
COMMON_METHODS: frozenset[str] = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)


@dataclass(frozen=True, slots=True)
class Route:
    """One compiled route; `config` keeps everything routing does not interpret."""

    id: str
    hosts: tuple[HostMatcher, ...]
    path: PathMatcher
    methods: frozenset[str] | None  # None = every method but NEVER_IMPLIED
    upstream: Upstream
    public: tuple[GlobMatcher, ...]
    preserve_host: bool
    connect_timeout: float | None  # None = the server default
    read_timeout: float | None  # None = the server default
    config: RouteConfig

    def allows(self, method: str) -> bool:
        if self.methods is None:
            return method not in NEVER_IMPLIED
        return method in self.methods

    def is_public(self, path: str) -> bool:
        return any(pattern.matches(path) for pattern in self.public)


@dataclass(frozen=True, slots=True)
class RouteLookup:
    """The answer of `RouteTable.match`: a route, or why there is none."""

    route: Route | None
    status: LookupStatus
    allow: frozenset[str] = frozenset()  # set on method-not-allowed only


_HOST_UNKNOWN = RouteLookup(None, "host-unknown")
_PATH_UNKNOWN = RouteLookup(None, "path-unknown")


class RouteTable:
    """Immutable after construction: nothing here mutates, mappings are read-only."""

    __slots__ = ("_routes", "_by_id", "_found", "_exact", "_wildcard")

    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = tuple(routes)
        self._by_id = MappingProxyType({route.id: route for route in self._routes})
        # Built once: constructing a frozen dataclass per request costs more than the lookup.
        self._found = MappingProxyType({route.id: RouteLookup(route, "ok") for route in routes})
        self._exact = MappingProxyType(_exact_candidates(self._routes))
        self._wildcard = MappingProxyType(_wildcard_buckets(self._routes))

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every configured host pattern (canonical form), in file order."""
        patterns = (_host_pattern(matcher) for route in self._routes for matcher in route.hosts)
        return tuple(dict.fromkeys(patterns))

    def by_id(self, route_id: str) -> Route:
        return self._by_id[route_id]

    def serves_host(self, host: str) -> bool:
        """Whether some route answers `host` (e.g. for safe post-login redirects)."""
        return bool(self._candidates(host))

    def match(self, host: str, path: str, method: str) -> RouteLookup:
        candidates = self._candidates(host)
        if not candidates:
            return _HOST_UNKNOWN
        allow: set[str] = set()
        for route in candidates:
            if not route.path.matches(path):
                continue
            if route.allows(method):
                return self._found[route.id]
            allow.update(route.methods or COMMON_METHODS)
        if allow:
            return RouteLookup(None, "method-not-allowed", frozenset(allow))
        return _PATH_UNKNOWN

    def _candidates(self, host: str) -> tuple[Route, ...]:
        exact = self._exact.get(host)
        if exact is not None:
            return exact
        indexes: set[int] = set()
        dot = host.find(".")
        while dot >= 0:
            indexes.update(self._wildcard.get(host[dot + 1 :], ()))
            dot = host.find(".", dot + 1)
        return tuple(self._routes[index] for index in sorted(indexes))


def compile_routes(routes: Sequence[RouteConfig]) -> RouteTable:
    """Compile validated route configs; raises `ConfigError` with every problem."""
    problems: list[ConfigProblem] = []
    compiled = [
        _compile_route(config, ("routes", index), problems) for index, config in enumerate(routes)
    ]
    if problems:
        raise ConfigError(problems)
    return RouteTable([route for route in compiled if route is not None])


def _compile_route(
    config: RouteConfig, key: KeyPath, problems: list[ConfigProblem]
) -> Route | None:
    hosts = [
        _attempt(problems, host_key, compile_host, host)
        for host_key, host in _host_entries(config.match, key)
    ]
    path = _path_matcher(config.match, (*key, "match"), problems)
    public = [
        _attempt(problems, (*key, "public", index), compile_glob, pattern)
        for index, pattern in enumerate(config.public)
    ]
    upstream = _attempt(problems, (*key, "upstream"), _upstream, config.upstream)
    if path is None or upstream is None or None in hosts or None in public:
        return None
    connect, read = _timeouts(config.upstream_timeouts)
    return Route(
        id=config.id,
        hosts=tuple(host for host in hosts if host is not None),
        path=path,
        methods=compile_methods(config.match.methods),
        upstream=upstream,
        public=tuple(glob for glob in public if glob is not None),
        preserve_host=config.preserve_host,
        connect_timeout=connect,
        read_timeout=read,
        config=config,
    )


def _attempt(
    problems: list[ConfigProblem], key: KeyPath, compile_: Callable[[_T], _R], value: _T
) -> _R | None:
    try:
        return compile_(value)
    except ValueError as error:
        message = f"{str(value)!r}: {error}"
        problems.append(ConfigProblem("", None, format_key_path(key), message))
        return None


def _host_entries(match: RouteMatch, key: KeyPath) -> list[tuple[KeyPath, str]]:
    if isinstance(match.host, str):
        return [((*key, "match", "host"), match.host)]
    return [((*key, "match", "host", index), host) for index, host in enumerate(match.host)]


def _path_matcher(
    match: RouteMatch, key: KeyPath, problems: list[ConfigProblem]
) -> PathMatcher | None:
    if match.path_prefix:
        return _attempt(problems, (*key, "path_prefix"), compile_prefix, match.path_prefix)
    if match.path_glob:
        return _attempt(problems, (*key, "path_glob"), compile_glob, match.path_glob)
    if match.path_regex:
        return _attempt(problems, (*key, "path_regex"), compile_regex, match.path_regex)
    return PrefixMatcher("/")


def _upstream(url: AnyHttpUrl) -> Upstream:
    if url.host is None or url.port is None:
        raise ValueError("an upstream URL needs a host")
    if url.query is not None or url.fragment is not None or url.username is not None:
        raise ValueError("an upstream URL has no query, fragment or userinfo")
    host = url.host[1:-1] if url.host.startswith("[") else url.host
    return Upstream(url.scheme, host, url.port, normalize_path(url.path or "/").rstrip("/"))


def _timeouts(timeouts: UpstreamTimeouts | None) -> tuple[float | None, float | None]:
    # Only values the operator wrote override the server's; the model's defaults don't.
    if timeouts is None:
        return None, None
    given = timeouts.model_fields_set
    return (
        timeouts.connect if "connect" in given else None,
        timeouts.read if "read" in given else None,
    )


def _exact_candidates(routes: tuple[Route, ...]) -> dict[str, tuple[Route, ...]]:
    names = dict.fromkeys(
        m.name for route in routes for m in route.hosts if isinstance(m, ExactHost)
    )
    return {
        name: tuple(route for route in routes if any(m.matches(name) for m in route.hosts))
        for name in names
    }


def _wildcard_buckets(routes: tuple[Route, ...]) -> dict[str, tuple[int, ...]]:
    """Parent domain (`example.com` for `*.example.com`) -> route indexes."""
    buckets: dict[str, list[int]] = {}
    for index, route in enumerate(routes):
        for matcher in route.hosts:
            if isinstance(matcher, WildcardHost):
                buckets.setdefault(matcher.suffix[1:], []).append(index)
    return {suffix: tuple(indexes) for suffix, indexes in buckets.items()}


def _host_pattern(matcher: HostMatcher) -> str:
    return matcher.name if isinstance(matcher, ExactHost) else "*" + matcher.suffix
