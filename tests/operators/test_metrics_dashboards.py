"""deploy/grafana and deploy/prometheus name only what a real gateway's /metrics has.

The dashboard JSON and the alert rules YAML are loaded, every metric name is pulled out
of their PromQL, and a gateway (one worker, and two in multiprocess mode) is scraped
after requests that make the labelled series exist. The rules file is also checked for
the structure Prometheus loads (`promtool` is not available here).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from authgate.decision import Outcome, Reason
from authgate.ops.metrics import CODE_CLASSES
from tests.ops.conftest import admin_url, route
from tests.testbed.gateway import Gateway
from tests.testbed.ports import free_port, wait_for_port
from tests.testbed.redis import RedisServer

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "authgate-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "authgate-alerts.yaml"
COOKIE_SECRET = "test-cookie-secret-0123456789abcdefghijklmnop"

# PromQL's functions, aggregations and keywords (prometheus/promql/parser), and
# Grafana's label_values: words that look like identifiers but name no metric.
PROMQL_WORDS = frozenset(
    """
    abs absent absent_over_time avg avg_over_time bool bottomk by ceil changes clamp
    clamp_max clamp_min count count_over_time count_values day_of_month day_of_week
    day_of_year days_in_month delta deriv exp floor group group_left group_right
    histogram_quantile holt_winters hour idelta ignoring increase irate label_join
    label_replace last_over_time ln log10 log2 max max_over_time min min_over_time minute
    month offset on or and unless predict_linear present_over_time quantile
    quantile_over_time rate resets round scalar sgn sort sort_desc sqrt stddev
    stddev_over_time stdvar stdvar_over_time sum sum_over_time time timestamp topk vector
    without year inf nan
    """.split()
)
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?")
_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_SERIES_SUFFIXES = ("_bucket", "_sum", "_count", "_created")
# Added by Prometheus at scrape time (job, instance) or by the histogram (le).
_TARGET_LABELS = frozenset({"job", "instance", "le"})
# The closed vocabularies a `label="value"` matcher must come from.
LABEL_VALUES: dict[str, frozenset[str]] = {
    "reason": frozenset(Reason),
    "decision": frozenset(Outcome),
    "code_class": frozenset(CODE_CLASSES),
    "stage": frozenset({"total", "upstream", "gateway"}),
    "result": frozenset({"applied", "rejected"}),
}


def base_name(name: str) -> str:
    """A histogram's series (`x_bucket`, `x_sum`, `x_count`) under the family name `x`."""
    for suffix in _SERIES_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _bare(expr: str) -> str:
    """`expr` without what holds no metric name: strings, matchers, ranges, label lists."""
    expr = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,[^)]*\)", r"\1", expr)  # Grafana
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    return re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)


def metric_names(expr: str) -> set[str]:
    """Every metric `expr` reads, histogram series under their family name."""
    names = set()
    for match in _IDENTIFIER.finditer(_bare(expr)):
        word, call = match.group(1), match.group(2)
        if word in PROMQL_WORDS:
            continue
        # A word before "(" is a function: an unknown one would be mistaken for a metric.
        assert not call, f"unknown PromQL function {word!r} in {expr!r}"
        names.add(base_name(word))
    return names


def matchers(expr: str) -> Iterator[tuple[str, str, str, str]]:
    """(metric, label, operator, value) for every label matcher in `expr`."""
    expr = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,[^)]*\)", r"\1", expr)
    for selector in _SELECTOR.finditer(expr):
        for label, operator, value in _MATCHER.findall(selector.group(2)):
            yield base_name(selector.group(1)), label, operator, value


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def alert_rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    board = dashboard()
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["query"]["query"])
    return exprs


def every_expr() -> list[str]:
    return dashboard_exprs() + [rule["expr"] for rule in alert_rules()]


# -- the extractor itself -------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("authgate_requests_total", {"authgate_requests_total"}),
        ("sum(authgate_requests_in_flight)", {"authgate_requests_in_flight"}),
        (
            'histogram_quantile(0.99, sum by (route, le) (rate('
            'authgate_request_duration_seconds_bucket{stage="gateway", route=~"$route"}'
            "[$__rate_interval])))",
            {"authgate_request_duration_seconds"},
        ),
        (
            "rate(x_sum[5m]) / rate(x_count[5m]) > 0.5 and on(job) up offset 5m",
            {"x", "up"},
        ),
        ('sum without (reason) (a{b="sum(c)"}) / ignoring(d) b_total', {"a", "b_total"}),
        ("label_values(authgate_requests_total, route)", {"authgate_requests_total"}),
        ("increase(m:recorded:rate5m[1h]) > 1e3", {"m:recorded:rate5m"}),
        ("vector(1) or absent(nothing_here)", {"nothing_here"}),
    ],
)
def test_metric_names_are_pulled_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_an_unknown_function_is_not_taken_for_a_metric() -> None:
    with pytest.raises(AssertionError, match="unknown PromQL function 'sumx'"):
        metric_names("sumx(authgate_requests_total)")


def test_matchers_are_pulled_out_with_their_metric() -> None:
    expr = 'sum(rate(a_bucket{stage="gateway", route=~"$route"}[5m])) / b{reason!="x"}'
    assert list(matchers(expr)) == [
        ("a", "stage", "=", "gateway"),
        ("a", "route", "=~", "$route"),
        ("b", "reason", "!=", "x"),
    ]


# -- the files' own structure ---------------------------------------------------------

_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
SEVERITIES = frozenset({"critical", "warning", "info"})
REQUIRED_ALERTS = {
    "gateway errors": 'reason="gateway-error"',
    "upstream errors": "authgate_upstream_errors_total",
    "store unavailable": 'reason="store-unavailable"',
    "sheds": 'reason="upstream-overloaded"',
    "decision-log drops": "authgate_decision_log_dropped_total",
    "reload failures": 'result="rejected"',
}


def test_alert_rules_have_the_structure_prometheus_loads() -> None:
    loaded = yaml.safe_load(ALERTS.read_text())
    assert set(loaded) == {"groups"}
    names = set()
    for group in loaded["groups"]:
        assert set(group) <= {"name", "interval", "limit", "rules"} and group["name"]
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"]), rule
            assert rule["alert"] not in names, f"duplicate alert {rule['alert']}"
            names.add(rule["alert"])
            assert isinstance(rule["expr"], str) and metric_names(rule["expr"]), rule
            assert _balanced(rule["expr"]), rule["expr"]
            assert _DURATION.match(str(rule["for"])), rule
            assert rule["labels"]["severity"] in SEVERITIES, rule
            assert all(isinstance(v, str) for v in rule["labels"].values()), rule
            assert rule["annotations"]["summary"].strip(), rule
            assert all(isinstance(v, str) for v in rule["annotations"].values()), rule


@pytest.mark.parametrize("topic", sorted(REQUIRED_ALERTS))
def test_each_required_alert_exists(topic: str) -> None:
    assert any(REQUIRED_ALERTS[topic] in rule["expr"] for rule in alert_rules()), topic


PER_ROUTE_BUCKETS = "sum by (route, le) (rate(authgate_request_duration_seconds_bucket"
REQUIRED_PANELS = {
    "request rate by outcome": "sum by (decision) (rate(authgate_requests_total",
    "request rate by code class": "sum by (code_class) (rate(authgate_requests_total",
    "gateway latency percentiles per route": f'{PER_ROUTE_BUCKETS}{{stage="gateway"',
    "upstream latency percentiles per route": f'{PER_ROUTE_BUCKETS}{{stage="upstream"',
    "upstream errors": "authgate_upstream_errors_total",
    "store unavailable": 'reason="store-unavailable"',
    "sheds": 'reason="upstream-overloaded"',
    "rate-limited": 'decision="rate_limited"',
    "decision-log drops": "authgate_decision_log_dropped_total",
    "reload failures": "authgate_config_reloads_total",
    "websocket refusals": 'reason=~"websocket-.*"',
}  # fmt: skip


def test_dashboard_is_a_grafana_dashboard() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    titles = [panel["title"] for panel in board["panels"]]
    assert len(titles) == len(set(titles))
    for panel in board["panels"]:
        assert panel["type"] and panel["datasource"] and panel["gridPos"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and _balanced(target["expr"]), target
    variables = {variable["name"] for variable in board["templating"]["list"]}
    used = set(re.findall(r"\$\{?(\w+)", json.dumps(board["panels"])))
    assert used - {"__rate_interval"} <= variables


@pytest.mark.parametrize("topic", sorted(REQUIRED_PANELS))
def test_each_required_panel_exists(topic: str) -> None:
    assert any(REQUIRED_PANELS[topic] in expr for expr in dashboard_exprs()), topic


def test_latency_panels_use_histogram_quantile() -> None:
    latency = [e for e in dashboard_exprs() if "authgate_request_duration_seconds" in e]
    assert latency and all(e.startswith("histogram_quantile(") for e in latency)


def _balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


# -- against a real gateway -----------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there: the route to it fails as upstream-unreachable


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def metrics_gateway(
    request: pytest.FixtureRequest,
    echo_upstream: TestServer,
    gateway_factory: Callable[..., Gateway],
    redis_server_factory: Callable[..., RedisServer],
    tmp_path: Path,
) -> Gateway:
    workers: int = request.param
    admin_port = free_port()
    upstream = str(echo_upstream.make_url("/")).rstrip("/")
    config: dict[str, Any] = {
        "server": {"admin_listen": f"127.0.0.1:{admin_port}", "workers": workers},
        "routes": [
            route("echo", "echo.test", upstream),
            route("dead", "dead.test", f"http://127.0.0.1:{closed_port()}"),
        ],
    }
    if workers > 1:  # several workers need a shared store
        config["store"] = {"backend": "redis", "url": redis_server_factory().url}
        config["secrets"] = {
            "cookie_secret": [COOKIE_SECRET],
            "assertion_keys": str(tmp_path / "keys.pem"),
        }
    gateway = gateway_factory(config)
    wait_for_port("127.0.0.1", admin_port, timeout=15.0, process=gateway.process)
    deadline = time.monotonic() + 20
    while workers > 1 and f"{workers} workers ready" not in gateway.stderr():
        assert time.monotonic() < deadline, gateway.stderr()
        time.sleep(0.1)
    return gateway


async def exercise(gateway: Gateway) -> None:
    """Requests that make the labelled series exist: allowed, unrouted, upstream down, reload."""
    connector = aiohttp.TCPConnector(force_close=True)  # spread over the workers
    async with aiohttp.ClientSession(connector=connector) as client:
        for host in ("echo.test", "echo.test", "nowhere.test", "dead.test"):
            async with client.get(f"{gateway.url}/x", headers={"Host": host}) as response:
                await response.read()
    gateway.signal(signal.SIGHUP)  # every worker reloads once: config_reloads gets a series
    deadline = time.monotonic() + 10
    while "config reload (SIGHUP) applied" not in gateway.stderr():
        assert time.monotonic() < deadline, gateway.stderr()
        await asyncio.sleep(0.05)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(gateway: Gateway) -> Samples:
    """(sample name, labels) → value, from the admin listener's /metrics."""
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{admin_url(gateway)}/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scraped_series(gateway: Gateway) -> dict[str, set[str]]:
    """Family name → label names."""
    series: dict[str, set[str]] = {}
    for name, labels in await scrape(gateway):
        series.setdefault(base_name(name), set()).update(label for label, _ in labels)
    return series


async def test_every_metric_the_deploy_files_name_is_exposed(metrics_gateway: Gateway) -> None:
    await exercise(metrics_gateway)
    wanted = set().union(*(metric_names(expr) for expr in every_expr()))
    assert wanted, "no metric names found"
    # Workers flush every second; the one that answers the scrape flushes first.
    deadline = time.monotonic() + 10
    while True:
        series = await scraped_series(metrics_gateway)
        missing = wanted - set(series)
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    assert missing == set(), f"named in deploy/ but not in /metrics: {sorted(missing)}"
    for expr in every_expr():
        for metric, label, operator, value in matchers(expr):
            assert label in series[metric] | _TARGET_LABELS, f"{metric} has no label {label}"
            if operator == "=" and label in LABEL_VALUES:
                assert value in LABEL_VALUES[label], f"{label}={value!r} is never set"


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` that carries `labels`."""
    wanted = set(labels.items())
    return sum(value for (n, have), value in samples.items() if n == name and wanted <= have)


async def test_status_class_and_latency_per_route_in_a_real_scrape(
    metrics_gateway: Gateway,
) -> None:
    await exercise(metrics_gateway)
    records = {r["route"] or "": r for r in metrics_gateway.decisions(4)}
    # Summed over every worker; the ones that did not answer flush within a second.
    deadline = time.monotonic() + 10
    while True:
        seen = await scrape(metrics_gateway)
        if total(seen, "authgate_requests_total") >= 4 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    requests = "authgate_requests_total"
    assert total(seen, requests, route="echo", code_class="2xx") == 2
    assert total(seen, requests, route="dead", code_class="5xx") == 1
    unrouted = f"{records['']['status'] // 100}xx"  # whatever the refusal's status is
    assert unrouted == "4xx"
    assert total(seen, requests, route="", code_class=unrouted) == 1
    assert total(seen, requests) == 4
    count = "authgate_request_duration_seconds_count"
    # "dead" never answered, but its failed connect attempt is timed as upstream time;
    # an unrouted request never reaches an upstream, so all of it is the gateway's.
    for route_id, answered, forwarded in (("echo", 2, 2), ("dead", 1, 1), ("", 1, 0)):
        assert total(seen, count, route=route_id, stage="gateway") == answered, route_id
        assert total(seen, count, route=route_id, stage="total") == answered, route_id
        assert total(seen, count, route=route_id, stage="upstream") == forwarded, route_id
    seconds = "authgate_request_duration_seconds_sum"
    gateway_time = total(seen, seconds, route="echo", stage="gateway")
    assert 0 < gateway_time <= total(seen, seconds, route="echo", stage="total")
