"""Operating the gateway: metrics, the admin listener, hot reload, workers, drain.

One module per concern, wired from `authgate.server.app` and `authgate.server.run`;
nothing here decides anything about a request. See docs/operations.md.

- `metrics`: Prometheus metrics fed from each decision record.
- `admin`: the admin listener (`/metrics`, `/healthz`, `/readyz`).
- `inflight`: which requests still run on which config generation.
- `changes`: what a new config changes (the reload log line).
- `filewatch`: has the config file changed (stat polling).
- `reload`: build a new snapshot, swap it in atomically, retire what it replaced.
- `listeners`: listening sockets opened by us, closed without dropping queued ones.
- `drain`: SIGTERM: stop accepting, let requests finish, close WebSockets with 1001.
- `workers`: the worker-count config check and what a worker knows of its siblings.
- `supervisor`: forks N workers on one port, restarts them, stops them together.
- `state_dir`: the folder of the files the gateway writes itself (`server.state_dir`).
"""
