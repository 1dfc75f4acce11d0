"""Config keys about client headers: what is stripped, and what a route may pass on.

Contract: pure pydantic types. `server.strip_headers` adds header names (or, ending
in `*`, name prefixes) to the built-in list of identity headers that are removed from
every request before it is forwarded (`authgate.mutate.spoofed`). A route's
`forward_overrides` lists the URL/method override headers it lets through — the
policy is then evaluated on what they override to — and `pass_authorization` lets a
client's `Authorization` header through on a route where the gateway authenticated
the request some other way (a session cookie). See docs/headers.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from authgate.config.schema_types import Strict

# `_` and `.` are allowed: an operator lists the spelling an app reads, and the
# gateway strips every spelling that folds to the same name anyway.
_STRIP_ENTRY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\*?$")


def _strip_entries(value: list[str]) -> list[str]:
    for entry in value:
        if not _STRIP_ENTRY.fullmatch(entry):
            raise ValueError(
                f"not a header name or prefix: {entry!r} (write X-Name, or X-Prefix-* for a prefix)"
            )
    return value


StripEntries = Annotated[list[str], AfterValidator(_strip_entries)]

OverrideHeader = Literal[
    "X-HTTP-Method-Override",
    "X-Method-Override",
    "X-HTTP-Method",
    "X-Original-URL",
    "X-Rewrite-URL",
    "X-Original-URI",
    "X-Forwarded-Uri",
    "X-Forwarded-Path",
]


class RouteHeaderFields(Strict):
    """Header keys of a route (mixed into RouteConfig)."""

    forward_overrides: list[OverrideHeader] = Field(default_factory=list)
    pass_authorization: bool = False


# Migration presets (mutate/presets.py): the identity headers another gateway sends.
PresetName = Literal["oauth2-proxy", "authelia", "pomerium", "iap"]


class GatewayHeaders(Strict):
    """Top-level `headers:` — what every route sends unless its own `headers` says."""

    preset: PresetName | None = None
