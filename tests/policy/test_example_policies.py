"""config/example.yaml shows every criterion, operator and combinator of the policy language.

(tests/config/test_example.py cannot see inside policy entries: they nest, and the
schema walk stops at the recursive alias.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from authgate.config.schema_policy import (
    ClaimCriterion,
    CountryCriterion,
    PolicyEntry,
    TimeCriterion,
)
from authgate.config.yaml_source import Source, parse_yaml

EXAMPLE = Path(__file__).parents[2] / "config" / "example.yaml"


def _keys(model: type[Any]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _walk(entry: Any, seen: set[str]) -> None:
    """Collect `entry-key` and `entry-key.sub-key` for every entry, recursively."""
    for key, value in entry.items():
        seen.add(key)
        if key in ("and", "or"):
            for item in value:
                _walk(item, seen)
        elif key == "not":
            _walk(value, seen)
        elif isinstance(value, dict) and key != "device":
            seen.update(f"{key}.{sub}" for sub in value)


def test_example_shows_the_whole_policy_language() -> None:
    data: Any = parse_yaml(EXAMPLE.read_text(encoding="utf-8"), Source(str(EXAMPLE)))
    seen: set[str] = set()
    for route in data["routes"]:
        for side in ("allow", "deny"):
            for entry in (route.get("policy") or {}).get(side, []):
                _walk(entry, seen)
    wanted = (
        _keys(PolicyEntry)
        | {f"claim.{k}" for k in _keys(ClaimCriterion)}
        | {f"country.{k}" for k in _keys(CountryCriterion)}
        | {f"time.{k}" for k in _keys(TimeCriterion)}
        | {"risk.below"}
    )
    assert wanted - seen == set()
