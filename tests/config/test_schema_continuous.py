"""`reverify_every` and `outage_grace` (docs/continuous.md): which interval a route
runs with — the route's, else its provider's, else its audience's — and bad values
named by file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from authgate.config.errors import ConfigError
from authgate.config.loader import load_config
from authgate.continuous.interval import reverify_due, reverify_interval


def written(tmp_path: Path, provider: dict[str, Any], route: dict[str, Any]) -> Path:
    path = tmp_path / "authgate.yaml"
    config = {
        "providers": [{"id": "corp", "issuer": "http://127.0.0.1:9", "client_id": "gw", **provider}],
        "routes": [{"id": "app", "match": {"host": "app.test"}, "upstream": "http://127.0.0.1:9", **route}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("provider", "route", "interval"),
    [
        pytest.param({}, {}, None, id="nothing-set-no-audience"),
        pytest.param({}, {"audience": "customer"}, None, id="customer-default-off"),
        pytest.param({}, {"audience": "workforce"}, 300.0, id="workforce-default-5m"),
        pytest.param({"reverify_every": "15m"}, {"audience": "customer"}, 900.0, id="provider-over-audience"),
        pytest.param({"reverify_every": "off"}, {"audience": "workforce"}, None, id="provider-off-over-workforce"),
        pytest.param({"reverify_every": "15m"}, {"reverify_every": "1m"}, 60.0, id="route-over-provider"),
        pytest.param({"reverify_every": "15m"}, {"reverify_every": "off"}, None, id="route-off-over-provider"),
        pytest.param({}, {"audience": "workforce", "reverify_every": "30s"}, 30.0, id="route-over-workforce"),
    ],
)
def test_which_interval_a_route_runs_with(
    tmp_path: Path, provider: dict[str, Any], route: dict[str, Any], interval: float | None
) -> None:
    config = load_config(str(written(tmp_path, provider, route)), {})
    assert reverify_interval(config.routes[0], config.providers[0]) == interval


def test_due_past_the_interval_only() -> None:
    assert not reverify_due(100.0, None, 10_000.0)  # off
    assert not reverify_due(100.0, 60.0, 159.9)
    assert reverify_due(100.0, 60.0, 160.0)


def test_the_grace_default(tmp_path: Path) -> None:
    config = load_config(str(written(tmp_path, {}, {})), {})
    assert config.providers[0].outage_grace == 600.0


@pytest.mark.parametrize(
    ("provider", "route", "problem"),
    [
        ({"reverify_every": "sometimes"}, {}, "providers[0].reverify_every"),
        ({"reverify_every": "0s"}, {}, "providers[0].reverify_every"),
        ({}, {"reverify_every": True}, "routes[0].reverify_every"),
        ({"outage_grace": "off"}, {}, "providers[0].outage_grace"),
    ],
)
def test_bad_values_are_named_by_file_line_and_key(
    tmp_path: Path, provider: dict[str, Any], route: dict[str, Any], problem: str
) -> None:
    path = written(tmp_path, provider, route)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {})
    [found] = [str(p) for p in caught.value.problems]
    assert found.startswith(f"{path}:") and problem in found, found
