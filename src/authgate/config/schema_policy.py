"""Schema of per-route policies, audiences, step-up and consent (pydantic v2).

Contract: shapes and local rules only (offline, pure); `RoutePolicyFields` is mixed
into `RouteConfig`.
"""

from __future__ import annotations

from authgate.config.schema_types import Strict


class RoutePolicyFields(Strict):
    """Policy-related keys of a route (mixed into RouteConfig)."""
