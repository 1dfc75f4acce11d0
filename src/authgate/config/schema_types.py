"""Shared building blocks of the config schema: the strict base model and durations.

Contract: pure pydantic types with no dependency on the rest of the schema, so every
schema module can import them without cycles.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

# RFC 7518 asymmetric algorithms only: never `none`, never HMAC — an HS256 "key" made
# from a provider's public key is the classic algorithm-confusion forgery
# (CVE-2015-9235 class). Tokens (`providers[i].algorithms`) and DPoP proofs
# (`bearer.dpop_algorithms`) are both bounded by it.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _parse_duration(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("not a duration (write e.g. 30s, 5m, 8h)")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found is None:
            raise ValueError(f"not a duration: {value!r} (write e.g. 250ms, 30s, 5m, 8h, 7d)")
        return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]
    raise ValueError("not a duration (write e.g. 30s, 5m, 8h)")


def parse_duration(text: str) -> float:
    """`30m` -> 1800.0, as the config reads durations (forms read them so too);
    ValueError for anything else."""
    value = _parse_duration(text)
    assert isinstance(value, float)  # a str is parsed or refused
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


Duration = Annotated[float, BeforeValidator(_parse_duration), AfterValidator(_positive)]


class Strict(BaseModel):
    """Base for every config model: unknown keys are errors, models are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# A duration, or `off`: a periodic check that can be switched off where it would be
# on by default (`reverify_every`).
Interval = Duration | Literal["off"]
