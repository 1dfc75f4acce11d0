"""`decision_log.dashboard:` — the live decision dashboard on the admin listener.

Contract: the dashboard is read-only and served only by the admin listener
(`server.admin_listen`, `ops.dashboard`); with no admin listener it is not served at
all. Its buffers are bounded here: `recent` records kept for the table, at most
`clients` live (server-sent events) connections at once. `source` says where the
records come from: `local` (this process's own records, handed over by the decision
log's writer), `redis_stream` (the Redis stream sink: every worker and replica),
`file` (the file sink, which all workers append to); `auto` picks `redis_stream` when
such a sink is configured, else `file` with several workers and a file sink, else
`local`. `hosts`: the Host names the dashboard answers besides IP literals and
`localhost` — the guard against DNS rebinding, where a web page under the attacker's
name is pointed at the admin address to read it from a browser on the inside.
Restart-only, like the rest of `decision_log` (`ops.changes`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from authgate.config.schema_types import Strict

DashboardSource = Literal["auto", "local", "redis_stream", "file"]


class DashboardConfig(Strict):
    enabled: bool = True
    recent: int = Field(default=2000, ge=10, le=100_000)  # records kept for the table
    clients: int = Field(default=8, ge=1, le=100)  # live (SSE) connections at once
    source: DashboardSource = "auto"
    hosts: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]+$")]] = Field(default_factory=list)
