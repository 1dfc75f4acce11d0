"""What a new config changes against the running one, for the reload log line.

Contract: `describe_changes(old, new) -> ConfigChanges` is pure. Routes are compared
by id (added, removed, changed); the other top-level sections by name; and the
settings a running process cannot take over (sockets, processes, clients built once
at start) are listed in `restart_needed`, because a reload keeps them as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate.config.schema import GatewayConfig, ServerConfig

# Read once at start: the sockets, the processes, the event loop, the upstream pool
# and the decision-log sinks. A reload applies everything else.
RESTART_ONLY_SERVER = (
    "listen",
    "admin_listen",
    "workers",
    "event_loop",
    "data_plane",
    "tls",
    "upstream_pool_size",
    "upstream_pool_size_per_host",
    "shutdown_timeout",
)
RESTART_ONLY_SECTIONS = ("decision_log",)


@dataclass(frozen=True)
class ConfigChanges:
    routes_added: tuple[str, ...] = ()
    routes_removed: tuple[str, ...] = ()
    routes_changed: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # other top-level keys whose value changed
    restart_needed: tuple[str, ...] = ()  # changed, but kept as they were

    def __str__(self) -> str:
        parts = [
            f"{label} {list(ids)}"
            for label, ids in (
                ("routes added", self.routes_added),
                ("routes removed", self.routes_removed),
                ("routes changed", self.routes_changed),
            )
            if ids
        ]
        if self.sections:
            parts.append(f"changed {list(self.sections)}")
        if self.restart_needed:
            parts.append(f"not applied until restart {list(self.restart_needed)}")
        return "; ".join(parts) if parts else "no changes"


def describe_changes(old: GatewayConfig, new: GatewayConfig) -> ConfigChanges:
    before = {route.id: route for route in old.routes}
    after = {route.id: route for route in new.routes}
    sections = tuple(
        name
        for name in GatewayConfig.model_fields
        if name not in ("routes", "server", *RESTART_ONLY_SECTIONS)
        and getattr(old, name) != getattr(new, name)
    )
    server_applied = [
        f"server.{key}"
        for key in ServerConfig.model_fields
        if key not in RESTART_ONLY_SERVER and getattr(old.server, key) != getattr(new.server, key)
    ]
    restart = [
        f"server.{key}"
        for key in RESTART_ONLY_SERVER
        if getattr(old.server, key) != getattr(new.server, key)
    ]
    restart += [name for name in RESTART_ONLY_SECTIONS if getattr(old, name) != getattr(new, name)]
    return ConfigChanges(
        routes_added=tuple(i for i in after if i not in before),
        routes_removed=tuple(i for i in before if i not in after),
        routes_changed=tuple(i for i in after if i in before and before[i] != after[i]),
        sections=(*server_applied, *sections),
        restart_needed=tuple(restart),
    )
