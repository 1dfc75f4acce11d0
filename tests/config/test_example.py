"""`config/example.yaml` shows every option of the schema.

When a field is added to the schema, this test fails until the example shows it
(DESIGN.md: "config/example.yaml in the repo must show all of them").
"""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import BaseModel

from authgate.config.loader import load_config
from authgate.config.schema import GatewayConfig
from authgate.config.yaml_source import Data, Source, parse_yaml

EXAMPLE = Path(__file__).parents[2] / "config" / "example.yaml"
Path_ = tuple[str, ...]


WILDCARD = "*"  # a key of the user's own, as in `entitlements: {db-admin: ...}`


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def schema_paths(model: type[BaseModel], prefix: Path_ = ()) -> set[Path_]:
    """Every key path the schema accepts, list indexes left out."""
    paths: set[Path_] = set()
    for name, field in model.model_fields.items():
        paths.add(prefix + (name,))
        at = prefix + (name,)
        if typing.get_origin(field.annotation) is dict:  # user-named keys
            at += (WILDCARD,)
        for inner in _models_in(field.annotation):
            paths |= schema_paths(inner, at)
    return paths


def example_paths(data: Data, prefix: Path_ = ()) -> set[Path_]:
    if isinstance(data, list):
        return {path for item in data for path in example_paths(item, prefix)}
    if not isinstance(data, dict):
        return set()
    paths: set[Path_] = set()
    for key, value in data.items():
        paths |= {prefix + (key,)} | example_paths(value, prefix + (key,))
        if key.endswith("_file"):  # `pem_file: PATH` shows the option `pem` (secret_files)
            paths.add(prefix + (key.removesuffix("_file"),))
        if prefix == ("entitlements",):  # user-named keys: shown under the wildcard
            paths |= example_paths(value, prefix + (WILDCARD,))
    return paths


def test_schema_walk_sees_nested_models() -> None:
    assert ("decision_log", "sinks", "file") in schema_paths(GatewayConfig)
    assert ("routes", "match", "host") in schema_paths(GatewayConfig)


def test_example_shows_every_option() -> None:
    data = parse_yaml(EXAMPLE.read_text(encoding="utf-8"), Source(str(EXAMPLE)))
    missing = schema_paths(GatewayConfig) - example_paths(data)
    assert not missing, f"config/example.yaml does not show: {sorted(missing)}"


def test_example_is_valid_with_an_empty_environment() -> None:
    config = load_config(EXAMPLE, {})
    assert len(config.routes) >= 3
    assert config.routes[0].upstream is not None


def test_example_uses_interpolation_with_defaults() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "${AUTHGATE_UPSTREAM:-http://127.0.0.1:9000}" in text
    config = load_config(EXAMPLE, {"AUTHGATE_UPSTREAM": "http://10.9.9.9:1234"})
    assert str(config.routes[0].upstream) == "http://10.9.9.9:1234/"
