"""The bench's gateway rows are configs authgate accepts, and `--only` picks what it names.

`authgate check-config` (the real CLI, in a subprocess) reads each kind's config as
`make bench` writes it, so a schema change that breaks a row fails here, not six
minutes into a bench run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import _configs  # noqa: E402
import _rows  # noqa: E402

from authgate.config.schema import GatewayConfig  # noqa: E402

PROVIDER = SimpleNamespace(issuer="http://127.0.0.1:1/", client_id="bench", client_secret="s")
HAS_DATA_PLANE = "data_plane" in GatewayConfig.model_fields["server"].annotation.model_fields  # type: ignore[union-attr]


def config_of(row: _rows.Gateway, tmp_path: Path) -> dict[str, object]:
    redis = "redis://127.0.0.1:1/0" if row.kind == "redis" else None
    return _configs.gateway_config(row, port=1, upstream_port=2, workdir=tmp_path,
                                   provider=PROVIDER, redis_url=redis, geo=True,
                                   data_plane=HAS_DATA_PLANE)


def test_the_bench_detects_the_data_plane_field_as_the_schema_has_it() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert _configs.has_data_plane(env) is HAS_DATA_PLANE


@pytest.mark.parametrize("name", sorted(_rows.GATEWAYS))
def test_every_gateway_row_is_a_valid_config(name: str, tmp_path: Path) -> None:
    row = _rows.GATEWAYS[name]
    raw = config_of(row, tmp_path)
    config = GatewayConfig.model_validate(raw)
    assert config.server.workers == row.workers
    if HAS_DATA_PLANE:
        assert getattr(config.server, "data_plane") == row.data_plane
    else:  # the key would be refused as unknown
        assert "data_plane" not in raw["server"]  # type: ignore[operator]
    route = config.routes[0]
    assert (route.public == ["/**"]) is (row.kind in ("public", "bare"))
    assert bool(route.rate_limit) is (row.kind != "bare")
    assert (config.geoip is None) is (row.kind == "bare")
    assert (config.decision_log.sinks == []) is (row.kind == "bare")


@pytest.mark.parametrize("kind", ["public", "bare"])
def test_check_config_accepts_the_public_and_bare_rows(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "authgate.yaml"
    path.write_text(yaml.safe_dump(config_of(_rows.Gateway(kind, 1, "aiohttp"), tmp_path)))
    done = subprocess.run([sys.executable, "-m", "authgate", "check-config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_takes_names_and_globs_in_run_order() -> None:
    assert _rows.select(["probe,caddy"]) == ["caddy", "probe"]
    assert _rows.select(["authgate-public*"]) == ["authgate-public-1w-native", "authgate-public-1w"]
    assert len(_rows.select(None)) == len(_rows.ROWS) == 16
    with pytest.raises(SystemExit, match="unknown row"):
        _rows.select(["authgate-pubic-1w"])
