"""Operating the gateway: metrics, the admin listener, hot reload, workers, drain.

One module per concern, all wired from `authgate.server.app` and
`authgate.server.run`; nothing here decides anything about a request.

- `metrics`: Prometheus counters and histograms fed from each decision record.
- `admin`: the admin listener (`/metrics`, `/healthz`, `/readyz`).
- `inflight`: which requests are still running on which config generation.
- `reload`: build a new snapshot, swap it in atomically, report what changed.
- `listeners`: the listening sockets, opened by us so drain can empty their queue.
- `drain`: SIGTERM: stop accepting, let requests finish, close WebSockets (1001).
- `workers`: the supervisor that forks N workers on one port and restarts them.
"""
