"""Schema of rate limits, login-abuse protection and load shedding (pydantic v2).

Contract: shapes and local rules only (offline, pure); `RouteLimitFields` is mixed
into `RouteConfig`.
"""

from __future__ import annotations

from authgate.config.schema_types import Strict


class RouteLimitFields(Strict):
    """Rate-limit keys of a route (mixed into RouteConfig)."""
