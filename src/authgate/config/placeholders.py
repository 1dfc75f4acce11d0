"""Placeholder secrets: the example's stand-ins must never protect a real gateway.

Contract: `find_placeholders(config)` returns the key path of every string value in
the validated config that starts with `example-only` — the stand-ins of
`config/example.yaml`, whose text is public, so a gateway started with one signs
cookies (or pseudonymizes records) with a key anybody can read on GitHub. Every
value is looked at, not a list of secret fields, so a placeholder read through a
`*_file` key or pasted into a new option is found too. Pure and offline; the
snapshot builder turns each path into a `file:line key: message` problem, so
`serve`, `check-config` and a reload all refuse it, while `load_config` (the schema
alone) still accepts the example as a file that is well formed.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from authgate.config.errors import KeyPath
from authgate.config.schema import GatewayConfig

PREFIX = "example-only"
MESSAGE = (
    "a placeholder of config/example.yaml, not a secret: give your own "
    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)


def find_placeholders(config: GatewayConfig) -> list[KeyPath]:
    """Key paths whose value is an example placeholder, in schema order."""
    return list(_walk(config, ()))


def _walk(value: object, path: KeyPath) -> Iterator[KeyPath]:
    # The models themselves, not model_dump(): serializing custom types warns.
    if isinstance(value, str) and value.startswith(PREFIX):
        yield path
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), path + (name,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, path + (str(key),))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, path + (index,))
