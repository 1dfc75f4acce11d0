"""The `authgate serve` configs of `bench/http_bench.py`'s gateway rows, one per kind.

Contract: `gateway_config(row, ...)` returns the YAML mapping for one `_rows.Gateway`
row (kinds and what `bare` turns off: `_rows.py`). `data_plane` is written only when
the code under test has `server.data_plane` (`has_data_plane()`): before it did, the
aiohttp data plane was the only one and the key would be refused as unknown.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from _rows import Gateway

ROOT = Path(__file__).resolve().parents[1]
COOKIE_SECRET = "bench-cookie-secret-0123456789abcdefghijklmnopqrstuvwxyz"
GEO_CITY_DB = ROOT / "tests" / "geo" / "data" / "maxmind" / "GeoLite2-City-Test.mmdb"
POLICY = {
    "allow": [
        {"and": [{"authenticated": True}, {"groups": ["bench"]}, {"ip": ["127.0.0.0/8"]}]}
    ]
}
USER_LIMIT = {"key": "user", "rate": "1000000/s", "burst": 1000000}
IP_LIMIT = {"key": "client_ip", "rate": "1000000/s", "burst": 1000000}  # never refuses


def data_plane_support(env: dict[str, str]) -> tuple[bool, bool]:
    """In the authgate that `serve` would run (this env's PYTHONPATH): is `data_plane` a
    field of `ServerConfig`, and is there an `authgate.dataplane` package to act on it?"""
    probe = ("import json, importlib.util; from authgate.config.schema import ServerConfig; "
             "print(json.dumps(['data_plane' in ServerConfig.model_fields, "
             "importlib.util.find_spec('authgate.dataplane') is not None]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, check=True)
    field, package = json.loads(done.stdout)
    return bool(field), bool(package)


def has_data_plane(env: dict[str, str]) -> bool:
    """Does the authgate that `serve` would run know `server.data_plane`?"""
    return data_plane_support(env)[0]


def gateway_config(row: Gateway, *, port: int, upstream_port: int, workdir: Path,
                   provider: Any, redis_url: str | None, geo: bool,
                   data_plane: bool) -> dict[str, Any]:
    # wrk is one client address: the per-address cap (256) must not cut --connections.
    server: dict[str, Any] = {"listen": f"127.0.0.1:{port}", "workers": row.workers,
                              "max_connections_per_ip": 65536,
                              "state_dir": str(workdir / "state")}
    if data_plane:
        server["data_plane"] = row.data_plane
    route: dict[str, Any] = {"id": "app", "match": {"host": "127.0.0.1"},
                             "upstream": f"http://127.0.0.1:{upstream_port}"}
    config: dict[str, Any] = {"server": server}
    if row.kind == "bare":
        server.update(watch_config=False, timeouts={"body_min_rate": 0})
        config["limits"] = {"login": None, "regulation": None, "max_inflight_per_upstream": None}
        config["decision_log"] = {"sinks": []}
        route["public"] = ["/**"]
        return {**config, "routes": [route]}
    config["decision_log"] = {"sinks": [{"file": str(workdir / "decisions.jsonl")}]}
    if geo and GEO_CITY_DB.exists():
        config["geoip"] = {"city": str(GEO_CITY_DB)}
    if row.kind == "public":
        route.update(public=["/**"], rate_limit=IP_LIMIT)
        return {**config, "routes": [route]}
    config.update(
        secrets={"cookie_secret": [COOKIE_SECRET],
                 "assertion_keys": str(workdir / "assertion-keys.pem")},
        store=({"backend": "redis", "url": redis_url, "key_prefix": f"bench-{row.name}:"}
               if redis_url else {"backend": "memory"}),
        providers=[{"id": "corp", "issuer": provider.issuer, "client_id": provider.client_id,
                    "client_secret": provider.client_secret,
                    "scopes": ["openid", "email", "profile", "groups"]}],
    )
    route.update(policy=POLICY, rate_limit=USER_LIMIT)
    return {**config, "routes": [route]}
