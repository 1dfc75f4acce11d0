"""Privileged access: entitlements, grants, their store, cache, service and notifications.

Contract: docs/privileged-access.md. `model` is the grant value; `store` the one
store interface (memory and Redis, one contract suite in tests/access/); `cache` the
per-process view of active grants that the request path reads; `service` the only
code that changes a grant (it records every event and tells every replica).
"""
