"""`describe_changes`: the reload log line names routes by id and restart-only keys."""

from __future__ import annotations

from typing import Any

from authgate.config.schema import GatewayConfig
from authgate.ops.changes import ConfigChanges, describe_changes


def config(*routes: dict[str, Any], **top: Any) -> GatewayConfig:
    return GatewayConfig.model_validate({"routes": list(routes), **top})


def route(route_id: str, upstream: str = "http://10.0.0.1:8000", **extra: Any) -> dict[str, Any]:
    return {"id": route_id, "match": {"host": f"{route_id}.test"}, "upstream": upstream, **extra}


def test_routes_added_removed_and_changed_by_id() -> None:
    old = config(route("a"), route("b"), route("c"))
    new = config(route("a"), route("c", upstream="http://10.0.0.2:8000"), route("d"))
    changes = describe_changes(old, new)
    assert (changes.routes_added, changes.routes_removed, changes.routes_changed) == (
        ("d",),
        ("b",),
        ("c",),
    )
    assert str(changes) == "routes added ['d']; routes removed ['b']; routes changed ['c']"


def test_nothing_changed() -> None:
    assert describe_changes(config(route("a")), config(route("a"))) == ConfigChanges()
    assert str(ConfigChanges()) == "no changes"


def test_other_sections_are_named() -> None:
    old = config(route("a"))
    new = config(
        route("a"), sessions={"idle_timeout": "1h"}, server={"trusted_proxies": ["10.0.0.0/8"]}
    )
    assert describe_changes(old, new).sections == ("server.trusted_proxies", "sessions")


def test_settings_read_once_at_start_are_reported_as_needing_a_restart() -> None:
    old = config(route("a"))
    new = config(
        route("a"),
        server={"listen": "0.0.0.0:9000", "workers": 2, "admin_listen": "127.0.0.1:9999"},
        decision_log={"sinks": [{"file": "x.jsonl"}]},
    )
    changes = describe_changes(old, new)
    assert changes.restart_needed == (
        "server.listen",
        "server.admin_listen",
        "server.workers",
        "decision_log",
    )
    assert changes.sections == ()
    assert "not applied until restart" in str(changes)
